import { enc, get } from '../api'
import { clear, fmt, h, table } from '../dom'
import { patientHref } from '../main'
import { linePlot, type Series } from '../plots'
import { volumeViewer, type Viewer } from '../viewer'

type Row = Record<string, any>

/** The maps a DCE exam may show over the anatomy: stored name, label, display window. */
export const DCE_MAPS: [string, string, number, number][] = [
  ['ktrans_per_min', 'Ktrans (/min)', 0, 0.5],
  ['fp_ml_per_100ml_per_min', 'Fp (ml/100 ml/min)', 0, 100],
  ['iaugc60_mM_s', 'IAUGC60 (mM·s)', 0, 30],
]

const MODEL_NAMES: Record<string, string> = { 'extended-tofts': 'extended Tofts', 'dual-input': 'dual-input' }

export async function dceView(view: HTMLElement, patient: string, date: string): Promise<() => void> {
  const base = `/api/patients/${enc(patient)}/dce/${enc(date)}`
  const exam = await get<Row>(base)
  view.append(h('h1', {}, 'DCE exam ', h('span', {}, date), ' · ', h('a', { href: patientHref(patient) }, String(patient))))
  const lesions: Row[] = exam.lesions ?? []
  view.append(h('h2', {}, 'Lesions (median over the voxels)'), table(
    ['#', 'Lesion', 'Volume (ml)', 'Ktrans (/min)', 've', 'vp', 'Fp (ml/100 ml/min)', 'Arterial fraction', 'IAUGC60 (mM·s)'],
    lesions.map((l) => [
      String(l.label), h('span', { class: 'lesion-name' }, String(l.name ?? '')), fmt(l.volume_ml, 2),
      h('span', { class: 'ktrans', 'data-label': String(l.label), 'data-value': String(l.ktrans_per_min) }, fmt(l.ktrans_per_min, 3)),
      fmt(l.ve, 2), fmt(l.vp, 3), fmt(l.fp_ml_per_100ml_per_min, 1), fmt(l.arterial_fraction, 2), fmt(l.iaugc60_mM_s, 1),
    ]),
    { id: 'dce-lesions' }))
  for (const note of exam.notes ?? []) view.append(h('p', { class: 'note' }, String(note)))

  const maps = DCE_MAPS.filter(([name]) => (exam.maps ?? []).includes(name))
  const chooser = h('div', { class: 'presets', role: 'group', 'aria-label': 'DCE map' })
  const holder = h('div', { class: 'viewers' })
  const curves = h('div', { class: 'plots', id: 'dce-curves' })
  view.append(h('h2', {}, 'Maps over the last frame, with the numbered lesions'), chooser, holder,
    h('p', { class: 'note' }, 'The maps are fitted in the lesions only (the analysis fits the SEG); ve and vp are in the table.'),
    h('h2', {}, 'Lesion curves against the fitted models'), curves)
  let viewer: Viewer | null = null
  const show = (index: number): void => {
    viewer?.dispose()
    clear(holder)
    const [name, label, lo, hi] = maps[index]
    viewer = volumeViewer(holder, `${label} over the liver, lesions outlined`, [
      { url: `${base}/volumes/anatomy.nii.gz`, colormap: 'gray' },
      { url: `${base}/volumes/${name}.nii.gz`, colormap: 'warm', cal_min: lo, cal_max: hi, opacity: 0.8 },
      { url: `${base}/volumes/lesions.nii.gz`, colormap: 'blue', cal_min: 0.5, cal_max: Math.max(1, lesions.length), opacity: 0.25 },
    ])
    holder.dataset.map = name
    void viewer.ready.then(() => { view.dataset.viewerReady = 'true' })
    for (const button of chooser.querySelectorAll('button')) button.setAttribute('aria-pressed', String(button.dataset.map === name))
  }
  maps.forEach(([name, label], index) => chooser.append(h('button', { type: 'button', 'data-map': name, onclick: () => show(index) }, label)))
  if (maps.length) show(0)
  else holder.append(h('p', { class: 'note' }, 'The analysis stored no map.'))

  try {
    const data = await get<Row>(`${base}/curves`)
    const times: number[] = data.times_s ?? []
    for (const lesion of (data.lesions ?? []) as Row[]) {
      const series: Series[] = [{
        name: 'measured',
        points: times.map((t, i) => ({ x: t, y: lesion.measured_mM[i] })).filter((p) => typeof p.y === 'number'),
      }]
      for (const [model, values] of Object.entries(lesion.model_mM ?? {}) as [string, number[]][]) {
        series.push({ name: MODEL_NAMES[model] ?? model, points: times.map((t, i) => ({ x: t, y: values[i] })) })
      }
      const ticks = new Map<number, string>()
      for (let i = 0; i < times.length; i += Math.max(1, Math.ceil(times.length / 6))) ticks.set(times[i], `${Math.round(times[i])} s`)
      curves.append(h('figure', { class: 'dce-curve', 'data-label': String(lesion.label) },
        linePlot(`Lesion ${lesion.label} concentration`, 'concentration (mM)', series, ticks, false),
        h('figcaption', {}, `Lesion ${lesion.label} (`, h('span', { class: 'lesion-name' }, String(lesion.name ?? '')),
          `): mean concentration of its voxels and the model curves of its stored parameters (AIF delay ${fmt(data.aif_delay_s, 1)} s).`)))
    }
    curves.dataset.loaded = 'true'
  } catch (error) {
    curves.append(h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error)))
  }
  return () => viewer?.dispose()
}
