import { api, setSession, type User } from '../api'
import { h } from '../dom'

export async function loginView(view: HTMLElement): Promise<null> {
  const error = h('p', { class: 'error', role: 'alert', id: 'login-error' })
  const username = h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true })
  const password = h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true })
  const form = h('form', { class: 'login', id: 'login-form' },
    h('h1', {}, 'Sign in to the reading room'),
    h('label', { for: 'username' }, 'User name'), username,
    h('label', { for: 'password' }, 'Password'), password,
    h('button', { type: 'submit' }, 'Sign in'), error)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    error.textContent = ''
    api<{ user: User; csrf_token: string }>('POST', '/api/login', { username: username.value, password: password.value })
      .then((answer) => {
        setSession(answer.csrf_token, answer.user)
        location.hash = '#/worklist'
      })
      .catch((failure: Error) => { error.textContent = failure.message })
  })
  view.append(form)
  username.focus()
  return null
}
