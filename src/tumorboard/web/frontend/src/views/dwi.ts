import { canEdit, enc, get, post } from '../api'
import { clear, fmt, h, table } from '../dom'
import { patientHref } from '../main'
import { barPlot, type Bar } from '../plots'
import { classesOverlay, volumeViewer, type Viewer } from '../viewer'

type Row = Record<string, any>

export const CLASS_COLOURS = { red: '#db1919', yellow: '#facc0d', green: '#19b233' } as const
const CLASS_RGB: Record<number, [number, number, number]> = { 1: [219, 25, 25], 2: [250, 204, 13], 3: [25, 178, 51] }
const REMOVED_RGB: [number, number, number] = [70, 110, 200]
/** How long after a component change the three-plane views load the new classes. */
const CLASSES_RELOAD_DELAY_MS = 1000

interface Overlay {
  width: number; height: number; pixel_width_mm: number; pixel_height_mm: number
  component_ids: number[]; classes: number[]
  labels: { component_id: number; column: number; row: number; kept: boolean }[]
}

export function keptIds(components: Row[]): number[] {
  return components.filter((c) => c.kept).map((c) => Number(c.component_id)).sort((a, b) => a - b)
}

function curationVersion(exam: Row): number {
  const value = exam.curation?.version ?? exam.version ?? 0
  return Number(value) || 0
}

function histogramBars(exam: Row): Bar[] {
  const hist = exam.histogram ?? exam.adc_histogram ?? {}
  const lower: number[] = hist.bin_lower_um2_per_s ?? hist.lower_um2_per_s ?? []
  const values: number[] = (hist.relative_frequency ?? hist.voxels ?? []).map((v: number) => v * (hist.relative_frequency ? 100 : 1))
  const yellow = Number(exam.summary?.yellow_lower_um2_per_s ?? exam.yellow_lower_um2_per_s ?? Infinity)
  const green = Number(exam.summary?.green_lower_um2_per_s ?? exam.green_lower_um2_per_s ?? 1500)
  const bars: Bar[] = []
  lower.forEach((edge, index) => {
    const value = Number(values[index] ?? 0)
    if (edge > 3000) return
    const colour = edge >= green ? CLASS_COLOURS.green : edge >= yellow ? CLASS_COLOURS.yellow : CLASS_COLOURS.red
    bars.push({ label: String(edge), value, colour })
  })
  return bars
}

export async function dwiView(view: HTMLElement, patient: string, date: string): Promise<() => void> {
  const base = `/api/patients/${enc(patient)}/dwi/${enc(date)}`
  // the first paint's three requests at once (the overlay of the analysis's own kept components)
  const firstExam = get<Row>(base)
  const firstOverlay = get<Overlay>(`${base}/mip_overlay.json`)
  firstExam.catch(() => undefined)
  firstOverlay.catch(() => undefined)
  const mip = new Image()
  mip.src = `${base}/mip.png`
  const editable = canEdit()
  view.append(h('h1', {}, 'WB-DWI exam ', h('span', {}, date), ' · ', h('a', { href: patientHref(patient) }, String(patient))))
  const volume = h('output', { id: 'tdv', 'aria-live': 'polite' })
  const classes = h('p', { id: 'classes' })
  const status = h('p', { id: 'curation-status', role: 'status' })
  const summary = h('div', { class: 'summary' },
    h('p', { class: 'big' }, 'Total diffusion volume: ', volume, ' ml'), classes, status)
  const canvas = h('canvas', { id: 'mip', class: 'mip', 'aria-label': 'coronal inverted-grey MIP; click a component to keep or remove it' })
  const legend = h('p', { class: 'legend' },
    ...(['red', 'yellow', 'green'] as const).map((name) => h('span', { class: `swatch ${name}` }, name)),
    h('span', { class: 'swatch removed' }, 'removed'))
  const histogram = h('figure', { id: 'histogram' })
  const componentTable = h('div', { id: 'components' })
  const viewers = h('div', { class: 'viewers' })
  view.append(h('div', { class: 'dwi-layout' },
    h('figure', { class: 'mip-figure' }, canvas, h('figcaption', {}, 'Coronal MIP of the computed high-b image (patient right on the left), classes of the kept components; ', editable ? 'click a component to keep or remove it.' : 'read-only.'), legend),
    h('div', { class: 'dwi-side' }, summary, histogram)),
  componentTable, h('h2', {}, 'Three planes'), viewers)

  // the three-plane viewers start now: their WebGL set-up overlaps the requests above
  const volumes = (name: string): string => `${base}/volumes/${name}.nii.gz`
  const open: Viewer[] = [
    volumeViewer(viewers, 'Computed high-b image with the classes', [{ url: volumes('computed_b'), colormap: 'gray' }, classesOverlay(volumes('classes'))]),
    volumeViewer(viewers, 'ADC (µm²/s) with the classes', [{ url: volumes('adc'), colormap: 'gray', cal_min: 0, cal_max: 3000 }, classesOverlay(volumes('classes'))]),
  ]
  void Promise.all(open.map((v) => v.ready)).then(() => { view.dataset.viewersReady = 'true' })
  let classesTimer: number | undefined
  const dispose = (): void => {
    window.clearTimeout(classesTimer)
    for (const v of open) v.dispose()
  }
  let exam: Row
  let overlay: Overlay | null
  try {
    [exam, overlay] = await Promise.all([firstExam, firstOverlay])
  } catch (error) {
    dispose()
    clear(view)
    throw error
  }
  void Promise.all(open.map((v) => v.ready)).then(() => {
    viewers.dataset.classesKept ??= keptIds(exam.components ?? []).join(',')
  })
  let busy = false

  const draw = (): void => {
    if (!overlay || !mip.complete || !mip.naturalWidth) return
    const { width, height } = overlay
    const scale = 720 / (height * overlay.pixel_height_mm)
    const sx = overlay.pixel_width_mm * scale
    const sy = overlay.pixel_height_mm * scale
    canvas.width = Math.round(width * sx)
    canvas.height = Math.round(height * sy)
    canvas.dataset.columns = String(width)
    canvas.dataset.rows = String(height)
    const ctx = canvas.getContext('2d')!
    ctx.imageSmoothingEnabled = false
    ctx.drawImage(mip, 0, 0, canvas.width, canvas.height)
    const layer = new ImageData(width, height)
    const kept = new Set(keptIds(exam.components ?? []))
    for (let i = 0; i < width * height; i++) {
      const cls = overlay.classes[i]
      const id = overlay.component_ids[i]
      const rgb = cls ? CLASS_RGB[cls] : (id && !kept.has(id) ? REMOVED_RGB : null)
      if (!rgb) continue
      layer.data.set([rgb[0], rgb[1], rgb[2], cls ? 215 : 140], i * 4)
    }
    const tmp = document.createElement('canvas')
    tmp.width = width
    tmp.height = height
    tmp.getContext('2d')!.putImageData(layer, 0, 0)
    ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height)
    ctx.font = 'bold 12px sans-serif'
    ctx.textBaseline = 'middle'
    for (const label of overlay.labels) {
      const text = String(label.component_id)
      const x = (label.column + 0.5) * sx + 6
      const y = (label.row + 0.5) * sy - 6
      const w = ctx.measureText(text).width + 6
      ctx.fillStyle = kept.has(label.component_id) ? 'rgba(255,255,255,0.85)' : 'rgba(200,210,235,0.85)'
      ctx.fillRect(x - 3, y - 8, w, 16)
      ctx.fillStyle = kept.has(label.component_id) ? '#000' : '#335'
      ctx.fillText(text, x, y)
    }
    canvas.dataset.kept = keptIds(exam.components ?? []).join(',')
    performance.mark('tb:mip-drawn')
  }

  const loadOverlay = async (): Promise<void> => {
    const ids = keptIds(exam.components ?? [])
    overlay = await get<Overlay>(`${base}/mip_overlay.json?kept=${ids.join(',')}`)
    draw()
  }

  const show = (): void => {
    volume.textContent = fmt(exam.total_diffusion_volume_ml, 1)
    volume.dataset.value = String(exam.total_diffusion_volume_ml)
    const c = exam.classes_ml ?? {}
    classes.textContent = `red ${fmt(c.red)} ml · yellow ${fmt(c.yellow)} ml · green ${fmt(c.green)} ml (vs ${exam.reference_exam ?? exam.reference?.date ?? 'reference'})`
    clear(histogram, barPlot('Tumour ADC histogram', 'voxels (%)', histogramBars(exam), true),
      h('figcaption', {}, 'ADC (µm²/s) of the kept tumour voxels, shaded by class.'))
    const rows: Row[] = exam.components ?? []
    clear(componentTable, h('h2', {}, 'Components'), table(
      ['#', 'Volume (ml)', 'Mean ADC (µm²/s)', 'Status', ...(editable ? [''] : [])],
      rows.map((c) => [
        String(c.component_id), fmt(c.volume_ml, 2), fmt(c.mean_adc_um2_per_s, 0),
        c.kept ? 'kept' : `removed${c.reason ? ` (${c.reason})` : ''}`,
        ...(editable ? [h('button', { type: 'button', class: 'toggle', 'data-component': String(c.component_id), onclick: () => { void toggle(Number(c.component_id)) } }, c.kept ? 'Remove' : 'Keep')] : []),
      ]),
      { class: 'components' }))
  }

  // the three planes show the curated classes too: loaded a moment after the last change
  // (a new upload recomputes NiiVue's textures, ~0.3 s without a GPU; a reader's next
  // click within that moment postpones it instead of waiting for it)
  const reloadClasses = (): void => {
    const kept = keptIds(exam.components ?? []).join(',')
    void Promise.all(open.map((v) => v.replaceTopLayer(classesOverlay(volumes('classes'))))).then(() => {
      viewers.dataset.classesKept = kept
    })
  }

  const toggle = async (id: number): Promise<void> => {
    if (!editable || busy) return
    const rows: Row[] = exam.components ?? []
    const row = rows.find((c) => Number(c.component_id) === id)
    if (!row) return
    busy = true
    canvas.dataset.busy = 'true'
    window.clearTimeout(classesTimer)
    performance.mark('tb:change:start')
    status.textContent = `${row.kept ? 'Removing' : 'Keeping'} component ${id}…`
    try {
      const body = row.kept ? { remove: [id], version: curationVersion(exam) } : { keep: [id], version: curationVersion(exam) }
      const answer = await post<Row>(`${base}/components`, body)
      performance.mark('tb:change:saved')
      volume.textContent = fmt(answer.total_diffusion_volume_ml, 1)
      volume.dataset.value = String(answer.total_diffusion_volume_ml)
      exam = answer.components ? { ...exam, ...answer } : await get<Row>(base)
      show()
      performance.mark('tb:change:shown')
      await loadOverlay()
      status.textContent = `Component ${id} ${row.kept ? 'removed' : 'kept'}.`
      classesTimer = window.setTimeout(reloadClasses, CLASSES_RELOAD_DELAY_MS)
    } catch (error) {
      status.textContent = error instanceof Error ? error.message : String(error)
      status.classList.add('error')
      try {
        exam = await get<Row>(base); show(); await loadOverlay()
        classesTimer = window.setTimeout(reloadClasses, CLASSES_RELOAD_DELAY_MS)
      } catch { /* keep the message */ }
    } finally {
      busy = false
      canvas.dataset.busy = 'false'
      performance.mark('tb:change:done')
    }
  }

  canvas.addEventListener('click', (event) => {
    if (!overlay || !editable) return
    const box = canvas.getBoundingClientRect()
    const column = Math.floor(((event.clientX - box.left) / box.width) * overlay.width)
    const row = Math.floor(((event.clientY - box.top) / box.height) * overlay.height)
    if (column < 0 || row < 0 || column >= overlay.width || row >= overlay.height) return
    const id = overlay.component_ids[row * overlay.width + column]
    if (id) void toggle(id)
  })
  mip.addEventListener('load', draw)
  show()
  draw()
  return dispose
}
