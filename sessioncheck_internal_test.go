package logout

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestIDTokenClaims(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	hdr, sig := enc(`{"alg":"RS256"}`), enc("sig")
	tests := []struct {
		name string
		raw  string
		want sessionClaims
	}{
		{"all claims", hdr + "." + enc(`{"iss":"https://op","sub":"u","sid":"s","iat":1700000000}`) + "." + sig,
			sessionClaims{Issuer: "https://op", Subject: "u", SID: "s", IssuedAt: time.Unix(1700000000, 0)}},
		{"fractional iat", hdr + "." + enc(`{"sub":"u","iat":1700000000.75}`) + "." + sig,
			sessionClaims{Subject: "u", IssuedAt: time.Unix(1700000000, 0)}},
		{"padded payload", hdr + "." + base64.URLEncoding.EncodeToString([]byte(`{"sub":"pad"}`)) + "." + sig,
			sessionClaims{Subject: "pad"}},
		{"iat as string is ignored", hdr + "." + enc(`{"sub":"u","iat":"1700000000"}`) + "." + sig,
			sessionClaims{Subject: "u"}},
		{"claim names are case-sensitive", hdr + "." + enc(`{"ISS":"https://evil","Sub":"x","SID":"s","Iat":1700000000}`) + "." + sig,
			sessionClaims{}},
		{"a case variant next to the claim", hdr + "." + enc(`{"sid":"s","SID":"other","sub":"u","sUB":"v"}`) + "." + sig,
			sessionClaims{Subject: "u", SID: "s"}},
		{"a case variant before the claim", hdr + "." + enc(`{"Sid":"other","sid":"s"}`) + "." + sig,
			sessionClaims{SID: "s"}},
		{"long s is not s", hdr + "." + enc("{\"\u017fid\":\"other\",\"sub\":\"u\"}") + "." + sig,
			sessionClaims{Subject: "u"}},
		{"escaped names", hdr + "." + enc(`{"\u0053ID":"other","s\u0069d":"s"}`) + "." + sig,
			sessionClaims{SID: "s"}},
		{"a claim of another type spoils the reading", hdr + "." + enc(`{"sid":7,"sub":"u","SID":"x"}`) + "." + sig,
			sessionClaims{}},
		{"data after the payload", hdr + "." + enc(`{"sub":"u"}{"sub":"v"}`) + "." + sig, sessionClaims{}},
		{"two parts", hdr + "." + enc(`{"sub":"u"}`), sessionClaims{}},
		{"bad base64", hdr + ".!!!." + sig, sessionClaims{}},
		{"not JSON", hdr + "." + enc("sub=u") + "." + sig, sessionClaims{}},
		{"empty", "", sessionClaims{}},
		{"too long", hdr + "." + strings.Repeat("a", maxCheckedTokenLength) + "." + sig, sessionClaims{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, idTokenClaims(tc.raw, false))
		})
	}
	withHash := idTokenClaims(hdr+"."+enc(`{"sub":"u"}`)+"."+sig, true)
	assert.True(t, strings.HasPrefix(withHash.TokenHash, "idt."))
	assert.Len(t, withHash.TokenHash, 4+22, "128 bits of SHA-256, base64url")
	assert.NotEmpty(t, idTokenClaims("opaque-token", true).TokenHash, "an unreadable token still has a hash")
}

// TestIDTokenClaimsLengthBound pins the bound on the id_token read: a
// token of exactly maxCheckedTokenLength bytes is read, one byte more is
// not.
func TestIDTokenClaimsLengthBound(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	token := enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"sid":"s1"}`)) + "."
	token += strings.Repeat("A", maxCheckedTokenLength-len(token))
	assert.Equal(t, "s1", idTokenClaims(token, true).SID, "exactly %d bytes", len(token))
	assert.Empty(t, idTokenClaims(token+"A", true).SID, "one byte more")
}
