package logout

import (
	"strconv"
	"strings"
)

// The keys of a Ledger. Every key the middleware and the backchannel
// module record or look up is made here, so that no two kinds of record
// can share a key. An app uses them to end sessions itself: recording
// SubjectKey(iss, sub) in the session check's Ledger, from an admin page
// say, signs every session of that user out at its next request.

// SIDKey returns the Ledger key of a provider session: the sid claim
// of issuer's tokens (OpenID Connect Front-Channel and Back-Channel
// Logout). The issuer is part of the key because a sid is unique only per
// issuer; a trailing slash of the issuer does not change the key.
func SIDKey(issuer, sid string) string {
	return scopedKey("sid:", issuer, sid)
}

// SubjectKey returns the Ledger key of every session of an end-user:
// the sub claim of issuer's tokens. A trailing slash of the issuer does
// not change the key.
func SubjectKey(issuer, sub string) string {
	return scopedKey("sub:", issuer, sub)
}

// SessionIDKey returns the Ledger key of one session of the app,
// identified by the random id the session check stores in it.
func SessionIDKey(id string) string {
	return "session:" + id
}

// scopedKey joins a prefix, the issuer's length, the issuer and a value, so
// that no two (issuer, value) pairs share a key whatever they contain. One
// trailing slash of the issuer is dropped: with and without it, it names
// the same provider, and a provider's tokens and front-channel requests may
// spell it either way.
func scopedKey(prefix, issuer, value string) string {
	issuer = issuerKey(issuer)
	return prefix + strconv.Itoa(len(issuer)) + ":" + issuer + ":" + value
}

// issuerKey is the form of an issuer that providers are found by: one
// trailing slash is dropped, as in the keys of the Ledger
// (scopedKey).
func issuerKey(issuer string) string {
	return strings.TrimSuffix(issuer, "/")
}

// JTIKey returns the Ledger key under which a used logout token's jti is
// recorded (OpenID Connect Back-Channel Logout, replay protection). It
// never matches a session check.
func JTIKey(issuer, jti string) string {
	return scopedKey("jti:", issuer, jti)
}

// registeredSIDKey is the Ledger key that marks sid as registered
// for front-channel logout. It never matches a session check.
func registeredSIDKey(issuer, sid string) string {
	return scopedKey("fcsid:", issuer, sid)
}
