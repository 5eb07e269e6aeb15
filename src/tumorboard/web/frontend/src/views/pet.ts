import { enc, get, listOf } from '../api'
import { fmt, h, table } from '../dom'
import { patientHref } from '../main'
import { volumeViewer } from '../viewer'

type Row = Record<string, any>

/** SUV window presets (cal_min, cal_max). */
export const SUV_PRESETS: [string, number, number][] = [['SUV 0–5', 0, 5], ['SUV 0–10', 0, 10], ['SUV 0–20', 0, 20]]

export async function petView(view: HTMLElement, patient: string, date: string): Promise<() => void> {
  const base = `/api/patients/${enc(patient)}/pet/${enc(date)}`
  const all = listOf<Row>(await get(`/api/patients/${enc(patient)}/pet/lesions`), 'lesions')
  const bySeries = new Map<string, Row[]>()
  for (const lesion of all.filter((l) => l.exam_date === date)) {
    const key = String(lesion.series ?? 'PET series')
    bySeries.set(key, [...(bySeries.get(key) ?? []), lesion])
  }
  const entries: Row[] = [...bySeries].map(([series, lesions]) => ({ series, lesions }))
  if (!entries.length) entries.push({ series: 'PET series', lesions: [] })
  view.append(h('h1', {}, 'PET ', h('span', {}, date), ' · ', h('a', { href: patientHref(patient) }, String(patient))))
  const disposers: (() => void)[] = []
  for (const entry of entries) {
    const number = typeof entry.series === 'string' ? Number(/^series (\d+)/.exec(entry.series)?.[1]) : NaN
    const query = Number.isFinite(number) ? `?series=${number}` : ''
    const section = h('section', { class: 'pet-series' }, h('h2', {}, String(entry.series ?? entry.series_label ?? 'PET series')))
    const lesions = listOf<Row>(entry, 'lesions')
    section.append(table(['Lesion', 'SUVmax', 'SULpeak', 'MTV (ml)', 'TLG', 'Krenning'],
      lesions.map((l) => [String(l.name ?? l.lesion ?? l.label ?? ''), fmt(l.suvbw_max, 2), fmt(l.sul_peak, 2), fmt(l.mtv_ml ?? l.volume_ml, 2), fmt(l.tlg ?? l.tlg_g, 1), fmt(l.krenning ?? l.krenning_score, 0)]),
      { class: 'lesions' }))
    const presets = h('div', { class: 'presets', role: 'group', 'aria-label': 'SUV window' })
    const holder = h('div', { class: 'viewers' })
    section.append(presets, holder)
    view.append(section)
    const viewer = volumeViewer(holder, 'SUVbw with the lesions', [
      { url: `${base}/volumes/suvbw.nii.gz${query}`, colormap: 'hot', cal_min: 0, cal_max: 10 },
      ...(entry.lesions.length === 0 ? [] : [{ url: `${base}/volumes/lesions.nii.gz${query}`, colormap: 'blue', opacity: 0.35, cal_min: 0.5, cal_max: 1 }]),
    ])
    for (const [name, lo, hi] of SUV_PRESETS) {
      presets.append(h('button', { type: 'button', onclick: () => {
        const nv = viewer.nv
        if (!nv || !nv.volumes.length) return
        nv.volumes[0].cal_min = lo
        nv.volumes[0].cal_max = hi
        nv.updateGLVolume()
      } }, name))
    }
    disposers.push(viewer.dispose)
  }
  view.append(h('p', { class: 'note' }, 'Fusion on CT or MR appears when the PET analysis stored an anatomical image of the same study.'))
  return () => { for (const dispose of disposers) dispose() }
}
