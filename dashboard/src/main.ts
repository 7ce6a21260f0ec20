import { adoptTokenFromAddress } from './token-store.ts'

// Before any element asks for the session: a kiosk's `?token=…` is stored and removed from the address.
adoptTokenFromAddress()

await import('./lw-app.ts')
