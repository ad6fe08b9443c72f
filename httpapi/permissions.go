package httpapi

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/fortress-dev/fortress"
)

// Permissions that routes require. Every route declares exactly one; NewServer refuses a route without
// a known permission, so nothing becomes reachable by omission (deny by default).
const (
	permPublic      = "public"       // anyone, without a token
	permItemsOwn    = "items:own"    // a signed-in user, on their own items
	permAccountOwn  = "account:own"  // a signed-in user, on their own account and sessions
	permUsersManage = "users:manage" // list, view, (de)activate and change the role of any account
	permAuditRead   = "audit:read"   // read the audit log
)

// rolePermissions is the one place that says what each role may do.
var rolePermissions = map[string][]string{
	fortress.RoleUser:  {permItemsOwn, permAccountOwn},
	fortress.RoleAdmin: {permItemsOwn, permAccountOwn, permUsersManage, permAuditRead},
}

// knownPermission reports whether p is public or granted to some role.
func knownPermission(p string) bool {
	if p == permPublic {
		return true
	}
	for _, perms := range rolePermissions {
		if slices.Contains(perms, p) {
			return true
		}
	}
	return false
}

// authenticated reports whether the operation needs a signed-in caller.
func (op operation) authenticated() bool { return op.permission != permPublic }

// checkPermissions panics when a route lacks a known permission: a programming error that every test
// run reveals, and that must never ship as an open route.
func checkPermissions(routes []route) {
	for _, rt := range routes {
		if !knownPermission(rt.doc.permission) {
			panic(fmt.Sprintf("httpapi: route %s %s declares no known permission (%q)", rt.method, rt.path, rt.doc.permission))
		}
	}
}

// requirePermission admits a signed-in user whose role grants perm (requireUser runs first) and
// answers 403 otherwise, recording the refusal in the audit log.
func requirePermission(audit auditor, perm string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u := userFrom(r.Context())
			if !slices.Contains(rolePermissions[u.Role], perm) {
				audit.record(r, fortress.AuditEvent{Event: eventAuthorizationDeny, ActorID: u.ID, SubjectID: u.ID,
					Outcome: outcomeDenied, Detail: perm})
				writeProblem(w, r, http.StatusForbidden, "Not enough permissions")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
