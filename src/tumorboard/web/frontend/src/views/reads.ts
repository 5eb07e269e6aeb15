import { canEdit, enc, get, listOf, post } from '../api'
import { clear, fmt, h, table } from '../dom'
import { volumeViewer, type Viewer } from '../viewer'

type Row = Record<string, any>

function field(label: string, input: HTMLInputElement | HTMLSelectElement): HTMLLabelElement {
  return h('label', {}, label, ' ', input)
}

function select(name: string, options: [string, string][]): HTMLSelectElement {
  return h('select', { name }, ...options.map(([value, label]) => h('option', { value }, label)))
}

/** The request of one edit of the form: route and body (the edits of ``tumorboard lesion``). */
export function readRequest(action: string, form: Row): [string, Row] {
  const values = form.diameter === '' ? [] : [{ quantity: 'longest_diameter_mm', text: String(form.diameter) }]
  const common = { label: form.label, exam: form.exam, modality: form.modality || null }
  switch (action) {
    case 'add': return ['', { ...common, organ: form.organ, role: form.role, values }]
    case 'new': return ['/new', { ...common, organ: form.organ, values, equivocal: false }]
    case 'ne': return ['/ne', common]
    default: return ['/measure', { ...common, values }]
  }
}

export async function readsView(view: HTMLElement, patient: string): Promise<() => void> {
  const base = `/api/patients/${enc(patient)}`
  const timeline = await get<Row>(`${base}/timeline`)
  const exams: Row[] = timeline.exams ?? []
  view.append(h('h1', {}, 'Lesion reads'))
  const list = h('div', { id: 'reads' })
  const status = h('p', { id: 'read-status', role: 'status' })
  // the reads version this page shows: a save over reads changed since is refused (409)
  let version = 0
  const refresh = async (): Promise<void> => {
    const reads = await get<Row>(`${base}/lesions`)
    version = Number(reads.version ?? 0)
    const rows = listOf<Row>(reads, 'rows')
    clear(list, table(['Lesion', 'Organ', 'Role', 'Exam', 'Timepoint', 'Modality', 'Status', 'Longest diameter (mm)', 'SULpeak'],
      rows.map((r) => [
        h('span', { class: 'lesion-name' }, String(r.lesion_id ?? '')), fmt(r.organ), fmt(r.role),
        fmt(r.date), fmt(r.timepoint), fmt(r.modality), fmt(r.status),
        h('span', { class: 'diameter' }, fmt(r.longest_diameter_mm)), fmt(r.sul_peak)]),
      { id: 'reads-table' }))
    if (!rows.length) list.append(h('p', {}, 'No lesion read yet.'))
  }
  view.append(list, status)
  await refresh()
  if (!canEdit()) return () => undefined

  const action = select('action', [['add', 'Add a baseline lesion'], ['measure', 'Measure a lesion'], ['new', 'Mark a new lesion'], ['ne', 'Mark not evaluable (NE)']])
  const label = h('input', { name: 'label', id: 'lesion-label', required: true, maxlength: 200 })
  const organ = h('input', { name: 'organ', id: 'lesion-organ', value: 'liver', maxlength: 200 })
  const role = select('role', [['target', 'target'], ['non-target', 'non-target']])
  const exam = select('exam', exams.map((e) => [String(e.date), String(e.date)]))
  const modality = select('modality', [['', '(as the exam\'s other reads)'], ['wbdwi', 'WB-DWI'], ['mr', 'MR'], ['ct', 'CT'], ['pet-fdg', 'FDG PET'], ['pet-dotatate', 'DOTATATE PET']])
  const diameter = h('input', { name: 'longest_diameter_mm', id: 'lesion-diameter', type: 'number', min: 0, max: 1000, step: 0.1, inputmode: 'decimal' })
  const measureBox = h('div', { class: 'measure' })
  let viewer: Viewer | null = null
  const openMeasure = (): void => {
    viewer?.dispose()
    clear(measureBox)
    const chosen = exams.find((e) => e.date === exam.value)
    if (!chosen?.dwi) { measureBox.append(h('p', { class: 'note' }, 'No stored image of this exam to measure on: enter the diameter.')); return }
    viewer = volumeViewer(measureBox, 'Drag a line on the image to measure it (mm)', [
      { url: `${base}/dwi/${enc(chosen.date)}/volumes/computed_b.nii.gz`, colormap: 'gray' }],
    (mm) => { diameter.value = mm.toFixed(1) }, { axialOnly: true })
  }
  const form = h('form', { id: 'read-form', class: 'read-form' },
    h('h2', {}, 'Edit the reads'),
    field('Edit', action), field('Lesion', label), field('Organ', organ), field('Role', role), field('Exam', exam),
    field('Modality', modality), field('Longest diameter (mm)', diameter),
    h('button', { type: 'button', id: 'open-measure', onclick: openMeasure }, 'Measure on the image'),
    h('button', { type: 'submit', id: 'save-read' }, 'Save'), measureBox)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    status.textContent = 'Saving…'
    const [route, body] = readRequest(action.value, {
      label: label.value, organ: organ.value, role: role.value, exam: exam.value, modality: modality.value, diameter: diameter.value,
    })
    post<Row>(`${base}/lesions${route}`, { ...body, version })
      .then(async () => { status.textContent = 'Saved.'; await refresh() })
      .catch(async (error: Error) => {
        // show the server's one line; reload the reads so the next save is against them
        await refresh().catch(() => undefined)
        status.textContent = error.message
      })
  })
  view.append(form)
  return () => viewer?.dispose()
}
