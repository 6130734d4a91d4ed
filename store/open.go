package store

import (
	"context"
	"net/url"
	"strings"
)

// Open opens the registry at loc: a postgres:// or postgresql:// URL opens
// a PostgreSQL registry (OpenPostgres); sqlite:PATH or a bare PATH a SQLite
// one (OpenSQLite).
func Open(ctx context.Context, loc string, opts Options) (Store, error) {
	if IsPostgresURL(loc) {
		return OpenPostgres(ctx, loc, opts)
	}
	return OpenSQLite(ctx, SQLitePath(loc), opts)
}

// SQLitePath is the file of a SQLite location: sqlite:PATH or PATH.
func SQLitePath(loc string) string {
	if p, ok := strings.CutPrefix(loc, "sqlite://"); ok {
		return p
	}
	return strings.TrimPrefix(loc, "sqlite:")
}

// Redact hides the password of a registry URL (in its user information or
// a password= parameter) for messages: postgres://qrun:***@host/db.
func Redact(loc string) string {
	scheme, rest, ok := strings.Cut(loc, "://")
	if !ok {
		return loc
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		if user, _, hasPw := strings.Cut(authority[:at], ":"); hasPw {
			authority = user + ":***" + authority[at:]
		}
	}
	if base, query, ok := strings.Cut(path, "?"); ok {
		parts := strings.Split(query, "&")
		for i, part := range parts {
			k, _, _ := strings.Cut(part, "=")
			if key, err := url.QueryUnescape(k); err == nil && strings.EqualFold(key, "password") {
				parts[i] = k + "=***"
			}
		}
		path = base + "?" + strings.Join(parts, "&")
	}
	return scheme + "://" + authority + path
}
