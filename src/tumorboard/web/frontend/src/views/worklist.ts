import { get, listOf } from '../api'
import { fmt, h, table } from '../dom'
import { patientHref } from '../main'

type Row = Record<string, unknown>

function count(value: unknown): string {
  if (Array.isArray(value)) return String(value.length)
  return fmt(value, 0)
}

export async function worklistView(view: HTMLElement): Promise<null> {
  const data = await get('/api/worklist')
  const rows = listOf<Row>(data, 'patients', 'worklist', 'items')
  view.append(h('h1', {}, 'Worklist'))
  if (!rows.length) {
    view.append(h('p', {}, 'No patients in the record.'))
    return null
  }
  view.append(table(
    ['Patient', 'Name', 'Next board', 'New studies', 'Analyses pending', 'Analyses failed'],
    rows.map((row) => {
      const id = String(row.patient_id ?? row.id ?? '')
      return [
        h('a', { href: patientHref(id), class: 'patient-link', 'data-patient': id }, id),
        String(row.name ?? row.patient_name ?? ''),
        fmt(row.next_board_date),
        count(row.new_studies),
        count(row.analyses_pending ?? row.pending),
        count(row.analyses_failed ?? row.failed),
      ]
    }),
    { id: 'worklist' }))
  return null
}
