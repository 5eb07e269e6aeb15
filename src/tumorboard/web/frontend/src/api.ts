// The JSON API: same-origin cookies, the CSRF token on every change, 401 leads to the login.

export class ApiError extends Error {
  constructor(public status: number, message: string) { super(message) }
}

export interface User { name: string; role: string }

let csrfToken = sessionStorage.getItem('tumorboard.csrf') ?? ''
let user: User | null = null

export function setSession(token: string | undefined, who: User | null): void {
  if (token) { csrfToken = token; sessionStorage.setItem('tumorboard.csrf', token) }
  user = who
  if (!who) { csrfToken = ''; sessionStorage.removeItem('tumorboard.csrf') }
}
export function currentUser(): User | null { return user }
export function canEdit(): boolean { return user !== null && (user.role === 'reader' || user.role === 'admin') }

function message(body: unknown, status: number): string {
  if (body && typeof body === 'object' && 'detail' in body) {
    const detail = (body as { detail: unknown }).detail
    if (typeof detail === 'string') return detail
    if (Array.isArray(detail)) return detail.map((d) => (d && typeof d === 'object' && 'msg' in d) ? String(d.msg) : String(d)).join('; ')
    if (detail && typeof detail === 'object' && 'message' in detail) return String((detail as { message: unknown }).message)
  }
  return `request failed (${status})`
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  let data: unknown = null
  try { data = text ? JSON.parse(text) : null } catch { data = null }
  if (response.status === 401 && !path.endsWith('/login')) {
    setSession(undefined, null)
    if (!location.hash.startsWith('#/login')) location.hash = '#/login'
  }
  if (!response.ok) throw new ApiError(response.status, message(data, response.status))
  return data as T
}

export const get = <T = unknown>(path: string): Promise<T> => api<T>('GET', path)
export const post = <T = unknown>(path: string, body?: unknown): Promise<T> => api<T>('POST', path, body ?? {})

export function enc(part: string): string { return encodeURIComponent(part) }

/** A list from a response that is a list or an object holding one under ``key``. */
export function listOf<T = Record<string, unknown>>(data: unknown, ...keys: string[]): T[] {
  if (Array.isArray(data)) return data as T[]
  if (data && typeof data === 'object') {
    for (const key of keys) {
      const value = (data as Record<string, unknown>)[key]
      if (Array.isArray(value)) return value as T[]
    }
  }
  return []
}
