"""The shared parser: one-line usage errors, number lists that start with '-'."""

import pytest

from tumorboard.cli.main import build_parser, main


@pytest.mark.parametrize(
    ("argv", "attribute", "expected"),
    [
        (
            ["pet", "suv", "d", "--liver-center", "-60,5,-615", "--out", "o"],
            "liver_center",
            "-60,5,-615",
        ),
        (
            ["dwi", "assess", "--image", "50=a", "--adc-window", "-100,2000", "--out", "o"],
            "adc_window",
            "-100,2000",
        ),
        (
            [
                "dce",
                "fit",
                "--curves",
                "c",
                "--aif",
                "a",
                "--model",
                "tofts",
                "--hct",
                "-0.5",
                "--out",
                "o",
            ],
            "hct",
            -0.5,
        ),
    ],
)
def test_negative_number_lists_are_values(argv, attribute, expected):
    args = build_parser(argv[0]).parse_args(argv)
    assert getattr(args, attribute) == expected


def test_unknown_option_is_still_an_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["dwi", "assess", "--image", "50=a", "--bogus", "--out", "o"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--bogus" in err[0]
