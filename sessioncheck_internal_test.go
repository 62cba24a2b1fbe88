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
		want SessionClaims
	}{
		{"all claims", hdr + "." + enc(`{"iss":"https://op","sub":"u","sid":"s","iat":1700000000}`) + "." + sig,
			SessionClaims{Issuer: "https://op", Subject: "u", SID: "s", IssuedAt: time.Unix(1700000000, 0)}},
		{"fractional iat", hdr + "." + enc(`{"sub":"u","iat":1700000000.75}`) + "." + sig,
			SessionClaims{Subject: "u", IssuedAt: time.Unix(1700000000, 0)}},
		{"padded payload", hdr + "." + base64.URLEncoding.EncodeToString([]byte(`{"sub":"pad"}`)) + "." + sig,
			SessionClaims{Subject: "pad"}},
		{"iat as string is ignored", hdr + "." + enc(`{"sub":"u","iat":"1700000000"}`) + "." + sig,
			SessionClaims{Subject: "u"}},
		{"two parts", hdr + "." + enc(`{"sub":"u"}`), SessionClaims{}},
		{"bad base64", hdr + ".!!!." + sig, SessionClaims{}},
		{"not JSON", hdr + "." + enc("sub=u") + "." + sig, SessionClaims{}},
		{"empty", "", SessionClaims{}},
		{"too long", hdr + "." + strings.Repeat("a", maxCheckedTokenLength) + "." + sig, SessionClaims{}},
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
