import { enc, get, listOf } from '../api'
import { fmt, h, table } from '../dom'
import { patientHref } from '../main'
import { barPlot, linePlot, type Bar, type Series } from '../plots'
import { CLASS_COLOURS } from './dwi'

type Row = Record<string, any>

const DAY_MS = 86_400_000

function days(date: string, first: string): number {
  return (Date.parse(date) - Date.parse(first)) / DAY_MS
}

/** Lines of percent change against each line's first value: WB-DWI volume, PET SULpeak, read diameters. */
export function spiderSeries(patient: string, exams: Row[], reads: Row[]): Series[] {
  const first = exams[0]?.date ?? ''
  const lines = new Map<string, { x: number; value: number; href: string; date: string }[]>()
  const add = (name: string, date: string, value: unknown, href: string): void => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return
    const list = lines.get(name) ?? []
    list.push({ x: days(date, first), value, href, date })
    lines.set(name, list)
  }
  for (const exam of exams) {
    add('WB-DWI volume', exam.date, exam.dwi?.total_diffusion_volume_ml, patientHref(patient, 'dwi', exam.date))
    for (const lesion of exam.pet?.lesions ?? []) add(`SULpeak ${lesion.lesion}`, exam.date, lesion.sul_peak, patientHref(patient, 'pet', exam.date))
  }
  for (const read of reads) {
    const value = read.longest_diameter_mm === '' ? NaN : Number(read.longest_diameter_mm)
    if (read.date) add(`⌀ ${read.lesion_id}`, String(read.date), value, patientHref(patient, 'reads'))
  }
  const series: Series[] = []
  for (const [name, points] of lines) {
    points.sort((a, b) => a.x - b.x)
    const base = points[0].value
    if (!base) continue
    series.push({
      name,
      points: points.map((p) => ({ x: p.x, y: ((p.value - base) / base) * 100, href: p.href, label: `${name} ${p.date}: ${(((p.value - base) / base) * 100).toFixed(1)} %` })),
    })
  }
  return series
}

export async function timelineView(view: HTMLElement, patient: string): Promise<null> {
  const timeline = await get<Row>(`/api/patients/${enc(patient)}/timeline`)
  let reads: Row[] = []
  try { reads = listOf<Row>(await get(`/api/patients/${enc(patient)}/lesions`), 'rows') } catch { reads = [] }
  let dceDates = new Set<string>()
  try { dceDates = new Set(listOf<string>(await get(`/api/patients/${enc(patient)}/dce`), 'exams')) } catch { dceDates = new Set() }
  const exams: Row[] = timeline.exams ?? []
  const responses: Record<string, Row[]> = timeline.responses ?? {}
  const criteria = Object.keys(responses)
  view.append(h('h1', {}, 'Patient ', h('span', { class: 'patient-id' }, String(timeline.patient_id ?? patient))))

  const byDate = new Map<string, Record<string, Row>>()
  for (const name of criteria) for (const point of responses[name]) {
    const cells = byDate.get(point.date) ?? {}
    cells[name] = point
    byDate.set(point.date, cells)
  }
  view.append(h('h2', {}, 'Exams'))
  view.append(table(
    ['Date', 'Modalities', 'WB-DWI volume (ml)', 'red / yellow / green (ml)', 'PET SULpeak (max)', 'DCE', ...criteria.map((name) => `${name} vs baseline / nadir`)],
    exams.map((exam) => {
      const cells = byDate.get(exam.date) ?? {}
      const classes = exam.dwi?.classes_ml ?? {}
      const peaks = (exam.pet?.lesions ?? []).map((l: Row) => l.sul_peak).filter((v: unknown) => typeof v === 'number')
      return [
        h('span', {}, exam.date, exam.label ? ` (${exam.label})` : ''),
        (exam.modalities ?? []).join(', '),
        exam.dwi ? h('a', { href: patientHref(patient, 'dwi', exam.date), class: 'dwi-link', 'data-date': exam.date }, fmt(exam.dwi.total_diffusion_volume_ml)) : '',
        exam.dwi ? ['red', 'yellow', 'green'].map((k) => fmt(classes[k])).join(' / ') : '',
        exam.pet ? h('a', { href: patientHref(patient, 'pet', exam.date), class: 'pet-link', 'data-date': exam.date }, peaks.length ? fmt(Math.max(...peaks), 2) : 'PET') : '',
        dceDates.has(exam.date) ? h('a', { href: patientHref(patient, 'dce', exam.date), class: 'dce-link', 'data-date': exam.date }, 'Ktrans, Fp') : '',
        ...criteria.map((name) => cells[name] ? `${cells[name].vs_baseline ?? '–'} / ${cells[name].vs_nadir ?? '–'}` : ''),
      ]
    }),
    { id: 'exams' }))

  const lines: Row[] = timeline.therapy_lines ?? []
  if (lines.length) {
    view.append(h('h2', {}, 'Therapy lines'))
    view.append(table(['Line', 'Drug', 'Class', 'Start', 'End', 'Baseline exam'],
      lines.map((line) => [fmt(line.line, 0), fmt(line.drug), fmt(line.drug_class), fmt(line.start_date), fmt(line.end_date), fmt(line.baseline_exam_date)])))
  }

  const series = spiderSeries(patient, exams, reads)
  const first = exams[0]?.date ?? ''
  const labels = new Map<number, string>(exams.map((exam) => [days(exam.date, first), exam.date.slice(0, 7)]))
  const plots = h('div', { class: 'plots' })
  plots.append(h('figure', { id: 'spider' }, linePlot('Spider plot', 'change vs first (%)', series, labels),
    h('figcaption', {}, 'Spider plot: each line is a measure (WB-DWI volume, a PET lesion\'s SULpeak, a read lesion\'s diameter) as percent change from its first value; each point opens its exam.')))
  const waterfall: Bar[] = series
    .map((line) => ({ label: line.name, value: Math.min(...line.points.map((p) => p.y)), colour: '#1f77b4' }))
    .sort((a, b) => b.value - a.value)
    .map((bar) => ({ ...bar, colour: bar.value <= -30 ? '#2ca02c' : bar.value >= 20 ? '#d62728' : '#7f7f7f' }))
  plots.append(h('figure', { id: 'waterfall' }, barPlot('Waterfall plot', 'best change (%)', waterfall),
    h('figcaption', {}, 'Waterfall plot: best (lowest) percent change of each measure, sorted.')))
  const dwiExams = exams.filter((exam) => exam.dwi)
  if (dwiExams.length) {
    plots.append(h('figure', { id: 'dwi-volumes' }, barPlot('WB-DWI volume by class', 'volume (ml)', dwiExams.map((exam) => ({
      label: exam.date,
      value: exam.dwi.total_diffusion_volume_ml ?? 0,
      href: patientHref(patient, 'dwi', exam.date),
      parts: (['red', 'yellow', 'green'] as const).map((name) => ({ name, value: exam.dwi.classes_ml?.[name] ?? 0, colour: CLASS_COLOURS[name] })),
    }))), h('figcaption', {}, 'WB-DWI total diffusion volume of each exam, stacked by response class; each bar opens its exam.')))
  }
  view.append(plots)
  if (!criteria.length) view.append(h('p', { class: 'note' }, 'No lesion reads yet: the response criteria appear once lesions are read.'))
  return null
}
