"""First view of a WB-DWI exam in the reading room, in a real browser (issue 13: <= 1 s).

Serves a workspace of the reference patient's first two WB-DWI exams with
``tumorboard serve`` on 127.0.0.1 (tests/web/browser_fixtures.py), signs in
with Debian's Chromium (headless, Playwright) and times, in a fresh browser
context each round (nothing cached), from the navigation to the exam until the
MIP with its overlay is drawn and both NiiVue three-plane viewers have loaded
their volumes (computed-b, ADC and the class overlay), and a component change
round trip (click on the MIP until the new volume is shown, then back).

Run: ``python benchmarks/bench_web_view.py [--rounds 5]``. Note that NiiVue
renders with SwiftShader (software WebGL) in a headless browser without a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))

from browser_fixtures import PATIENT, READER, chromium, serving  # noqa: E402

READY = (
    "() => document.querySelector('#mip')?.dataset.kept !== undefined && "
    "document.querySelectorAll('canvas.niivue[data-loaded=true]').length === 2"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    first_view: list[float] = []
    round_trip: list[float] = []
    with tempfile.TemporaryDirectory() as folder, serving(Path(folder)) as room:
        date = room.dwi_dates[0]
        with chromium() as browser:
            for _ in range(args.rounds):
                context = browser.new_context(
                    base_url=room.url, viewport={"width": 1400, "height": 1000}
                )
                page = context.new_page()
                page.goto("/#/login")
                page.fill("#username", READER[0])
                page.fill("#password", READER[1])
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("#worklist")
                start = time.perf_counter()
                page.goto(f"/#/patient/{PATIENT}/dwi/{date}")
                page.wait_for_function(READY, timeout=60_000)
                first_view.append(time.perf_counter() - start)
                for label in ("removed", "kept"):
                    before = page.locator("#tdv").get_attribute("data-value")
                    start = time.perf_counter()
                    page.locator("button.toggle").last.click()
                    page.wait_for_function(
                        "(before) => document.querySelector('#tdv').dataset.value !== before "
                        "&& document.querySelector('#mip').dataset.busy === 'false'",
                        arg=before,
                    )
                    round_trip.append(time.perf_counter() - start)
                    del label
                context.close()
    print(f"first view of a WB-DWI exam (MIP, overlay, 3 volumes), {args.rounds} rounds:")
    print(f"  median {statistics.median(first_view):.3f} s, max {max(first_view):.3f} s")
    print(
        f"component change round trip (click -> new volume, histogram, overlay), {len(round_trip)}:"
    )
    print(f"  median {statistics.median(round_trip):.3f} s, max {max(round_trip):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
