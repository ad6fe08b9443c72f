// Package fortress is the domain of the Fortress API: users, items, the services that store them and
// the error codes they return. It imports nothing of this module; the adapters (httpapi, sqlite,
// postgres, password, token) import it, and only cmd/fortress wires them together.
package fortress
