// The reading room: hash routes over the JSON API. Data is rendered with DOM APIs only.
import { ApiError, currentUser, get, post, setSession, type User } from './api'
import { clear, h } from './dom'
import { loginView } from './views/login'
import { worklistView } from './views/worklist'
import { timelineView } from './views/timeline'
import { dwiView } from './views/dwi'
import { petView } from './views/pet'
import { dceView } from './views/dce'
import { readsView } from './views/reads'
import { formView } from './views/form'
import { auditView } from './views/audit'

export interface Route { name: string; patient?: string; date?: string }

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map((part) => decodeURIComponent(part))
  if (parts[0] === 'login') return { name: 'login' }
  if (parts[0] === 'patient' && parts[1]) {
    const patient = parts[1]
    if ((parts[2] === 'dwi' || parts[2] === 'pet' || parts[2] === 'dce') && parts[3]) return { name: parts[2], patient, date: parts[3] }
    if (parts[2] === 'reads' || parts[2] === 'form' || parts[2] === 'audit') return { name: parts[2], patient }
    return { name: 'timeline', patient }
  }
  return { name: 'worklist' }
}

export function patientHref(patient: string, view = '', date = ''): string {
  return '#/patient/' + [patient, view, date].filter((part) => part !== '').map(encodeURIComponent).join('/')
}

let cleanup: (() => void) | null = null
let generation = 0

function navigation(route: Route): void {
  const nav = document.getElementById('nav')!
  const who = document.getElementById('who')!
  const user = currentUser()
  clear(nav)
  clear(who)
  if (!user) return
  nav.append(h('a', { href: '#/worklist' }, 'Worklist'))
  if (route.patient) {
    for (const [view, label] of [['', 'Timeline'], ['reads', 'Reads'], ['form', 'Form'], ['audit', 'Audit']]) {
      nav.append(h('a', { href: patientHref(route.patient, view), 'aria-current': route.name === (view || 'timeline') ? 'page' : null }, label))
    }
  }
  who.append(
    h('span', { class: 'user', 'data-role': user.role }, `${user.name} (${user.role})`),
    h('button', { type: 'button', id: 'logout', onclick: () => { void logout() } }, 'Sign out'))
}

async function logout(): Promise<void> {
  try { await post('/api/logout') } catch { /* the session may be gone already */ }
  setSession(undefined, null)
  location.hash = '#/login'
}

async function ensureUser(): Promise<boolean> {
  if (currentUser()) return true
  try {
    const me = await get<{ user?: User; csrf_token?: string } & Partial<User>>('/api/me')
    const user = me.user ?? (me.name ? { name: me.name, role: me.role ?? 'viewer' } : null)
    setSession(me.csrf_token, user)
    return user !== null
  } catch {
    return false
  }
}

async function render(): Promise<void> {
  const mine = ++generation
  if (cleanup) { cleanup(); cleanup = null }
  const app = document.getElementById('app')!
  let route = parseRoute(location.hash)
  if (route.name !== 'login' && !(await ensureUser())) {
    if (mine !== generation) return
    location.hash = '#/login'
    return
  }
  if (mine !== generation) return
  if (route.name === 'login' && currentUser()) route = { name: 'worklist' }
  navigation(route)
  const view = h('section', { class: 'view', 'data-view': route.name })
  clear(app, view)
  view.setAttribute('aria-busy', 'true')
  try {
    switch (route.name) {
      case 'login': cleanup = await loginView(view); break
      case 'timeline': cleanup = await timelineView(view, route.patient!); break
      case 'dwi': cleanup = await dwiView(view, route.patient!, route.date!); break
      case 'pet': cleanup = await petView(view, route.patient!, route.date!); break
      case 'dce': cleanup = await dceView(view, route.patient!, route.date!); break
      case 'reads': cleanup = await readsView(view, route.patient!); break
      case 'form': cleanup = await formView(view, route.patient!); break
      case 'audit': cleanup = await auditView(view, route.patient!); break
      default: cleanup = await worklistView(view)
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return
    view.append(h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error)))
  } finally {
    view.setAttribute('aria-busy', 'false')
  }
}

window.addEventListener('hashchange', () => { void render() })
void render()
