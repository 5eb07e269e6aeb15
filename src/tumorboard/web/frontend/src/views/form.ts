import { canEdit, enc, get, listOf, post } from '../api'
import { clear, fmt, h, table } from '../dom'

type Row = Record<string, any>

export async function formView(view: HTMLElement, patient: string): Promise<null> {
  const base = `/api/patients/${enc(patient)}`
  view.append(h('h1', {}, 'Case-report form'))
  const versions = h('div', { id: 'signed-versions' })
  const status = h('p', { id: 'sign-status', role: 'status' })
  const refresh = async (): Promise<void> => {
    const rows = listOf<Row>(await get(`${base}/signoffs`), 'versions')
    clear(versions, h('h2', {}, 'Signed versions'), rows.length
      ? table(['Version', 'Signed by', 'At', 'PDF'], rows.map((r) => [
        h('span', { class: 'version' }, String(r.version)), fmt(r.signer), fmt(r.signed_at),
        h('a', { href: `${base}/signoffs/${enc(String(r.version))}/pdf`, target: '_blank', rel: 'noopener' }, 'PDF')]), { id: 'versions' })
      : h('p', {}, 'Not signed yet.'))
  }
  if (canEdit()) {
    const button = h('button', { type: 'button', id: 'sign', onclick: () => {
      button.disabled = true
      status.textContent = 'Signing…'
      post<Row>(`${base}/sign`)
        .then(async (signed) => { status.textContent = `Signed version ${signed.version}.`; await refresh() })
        .catch((error: Error) => { status.textContent = error.message })
        .finally(() => { button.disabled = false })
    } }, 'Sign the form')
    view.append(h('p', {}, button, ' Signing freezes the form as it stands now (PDF, signer and time); a later change needs a new version.'), status)
  }
  view.append(versions)
  view.append(h('h2', {}, 'Preview'), h('iframe', { id: 'form-preview', sandbox: '', src: `${base}/form`, title: 'case-report form preview', referrerpolicy: 'no-referrer' }))
  await refresh()
  return null
}
