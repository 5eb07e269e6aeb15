import { enc, get, listOf } from '../api'
import { fmt, h, table } from '../dom'

type Row = Record<string, any>

export async function auditView(view: HTMLElement, patient: string): Promise<null> {
  const rows = listOf<Row>(await get(`/api/audit?patient=${enc(patient)}`), 'changes', 'entries', 'audit')
  view.append(h('h1', {}, 'Audit trail'))
  view.append(table(['When', 'Who', 'What', 'Field', 'Old', 'New'],
    rows.map((r) => [fmt(r.changed_at ?? r.when), fmt(r.author ?? r.who), `${r.table_name ?? r.table ?? ''} ${r.row_id ?? ''}`.trim(), fmt(r.field), fmt(r.old_value ?? r.old), fmt(r.new_value ?? r.new)]),
    { id: 'audit' }))
  if (!rows.length) view.append(h('p', {}, 'No changes recorded for this patient.'))
  return null
}
