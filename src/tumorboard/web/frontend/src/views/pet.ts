import { enc, get, listOf } from '../api'
import { fmt, h, table } from '../dom'
import { patientHref } from '../main'
import { volumeViewer, type Viewer } from '../viewer'

type Row = Record<string, any>

/** SUV window presets (cal_min, cal_max). */
export const SUV_PRESETS: [string, number, number][] = [['SUV 0–5', 0, 5], ['SUV 0–10', 0, 10], ['SUV 0–20', 0, 20]]
/** CT window presets (HU: cal_min, cal_max from level and width). */
export const CT_PRESETS: [string, number, number][] = [['CT soft tissue', 40 - 200, 40 + 200], ['CT liver', 60 - 75, 60 + 75], ['CT lung', -600 - 750, -600 + 750], ['CT bone', 400 - 900, 400 + 900]]

function setWindow(viewer: Viewer, index: number, lo: number, hi: number): void {
  const nv = viewer.nv
  if (!nv || nv.volumes.length <= index) return
  nv.volumes[index].cal_min = lo
  nv.volumes[index].cal_max = hi
  nv.updateGLVolume()
}

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
    const anatomyPresets = h('div', { class: 'presets', role: 'group', 'aria-label': 'CT or MR window' })
    const holder = h('div', { class: 'viewers' })
    const fusionNote = h('p', { class: 'note fusion-note', role: 'status' })
    section.append(fusionNote, presets, anatomyPresets, holder)
    view.append(section)
    const fusion = await get<Row>(`${base}/fusion${query}`)
    const anatomy: Row | null = fusion.anatomy ?? null
    const suv = { url: `${base}/volumes/suvbw.nii.gz${query}`, colormap: 'hot', cal_min: 0, cal_max: 10, opacity: anatomy ? 0.6 : 1 }
    const lesionsLayer = entry.lesions.length === 0 ? [] : [{ url: `${base}/volumes/lesions.nii.gz${query}`, colormap: 'blue', opacity: 0.35, cal_min: 0.5, cal_max: 1 }]
    const suvIndex = anatomy ? 1 : 0
    let viewer: Viewer
    if (anatomy) {
      const how = anatomy.registered ? 'registered rigidly to the PET (another frame of reference)' : 'same frame of reference'
      const where = anatomy.same_study ? 'of the PET\'s study' : 'of another study of the same exam'
      fusionNote.textContent = `SUVbw fused on the ${anatomy.modality} ${where}: ${anatomy.description} (${how}).`
      section.dataset.fusion = String(anatomy.modality)
      viewer = volumeViewer(holder, `SUVbw on ${anatomy.modality}`, [
        { url: `${base}/anatomy.nii.gz${query}`, colormap: 'gray', ...(anatomy.modality === 'CT' ? { cal_min: -160, cal_max: 240 } : {}) },
        suv, ...lesionsLayer])
      const anatomyWindows: [string, number, number][] = anatomy.modality === 'CT' ? CT_PRESETS : []
      for (const [name, lo, hi] of anatomyWindows) {
        anatomyPresets.append(h('button', { type: 'button', onclick: () => setWindow(viewer, 0, lo, hi) }, name))
      }
      if (anatomy.modality !== 'CT') {
        anatomyPresets.append(h('button', { type: 'button', onclick: () => {
          const nv = viewer.nv
          if (!nv || !nv.volumes.length) return
          setWindow(viewer, 0, nv.volumes[0].robust_min ?? nv.volumes[0].global_min ?? 0, nv.volumes[0].robust_max ?? nv.volumes[0].global_max ?? 1)
        } }, 'MR auto'))
      }
      for (const [name, opacity] of [['PET 40 %', 0.4], ['PET 60 %', 0.6], ['PET 90 %', 0.9]] as [string, number][]) {
        anatomyPresets.append(h('button', { type: 'button', onclick: () => {
          const nv = viewer.nv
          if (!nv || nv.volumes.length <= suvIndex) return
          nv.setOpacity(suvIndex, opacity)
        } }, name))
      }
    } else {
      fusionNote.textContent = String(fusion.message ?? 'No CT or MR to fuse on.')
      section.dataset.fusion = 'none'
      viewer = volumeViewer(holder, 'SUVbw with the lesions', [suv, ...lesionsLayer])
    }
    for (const [name, lo, hi] of SUV_PRESETS) {
      presets.append(h('button', { type: 'button', onclick: () => setWindow(viewer, suvIndex, lo, hi) }, name))
    }
    disposers.push(viewer.dispose)
  }
  return () => { for (const dispose of disposers) dispose() }
}
