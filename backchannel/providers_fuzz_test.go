package backchannel

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidc-logout/logout"
)

// FuzzProviderOfToken checks, for any payload signed with provider B's
// client secret, that Verify refuses it or returns a token of B's issuer
// (one trailing slash aside, as the middleware finds providers) addressed
// to B's client: provider B can never end a session of A.
func FuzzProviderOfToken(f *testing.F) {
	const (
		issA, issB       = "https://a.example.com", "https://b.example.com"
		secretA, secretB = "secret-of-a-0123456789abcdef-0123", "secret-of-b-0123456789abcdef-0123"
	)
	for _, p := range []string{
		`{"iss":"https://b.example.com","aud":"client-b","iat":1700000000,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
		`{"iss":"https://a.example.com","aud":"client-a","iat":1700000000,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
		`{"iss":"https://a.example.com","ISS":"https://b.example.com","aud":["client-a","client-b"],"iat":1700000000,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
		`{"iss":"https://b.example.com/","aud":"client-b","iat":1700000000,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
		`{"iss":"https://b.example.com","iss":"https://a.example.com","aud":"client-a","iat":1700000000,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
	} {
		f.Add([]byte(p))
	}
	m := fuzzMiddleware(f,
		logout.Provider{Issuer: issA, ClientID: "client-a", SigningAlgorithms: []string{"HS256"}, ClientSecret: secretA},
		logout.Provider{Issuer: issB, ClientID: "client-b", SigningAlgorithms: []string{"HS256"}, ClientSecret: secretB},
	)
	h, err := New(m, Config{Ledger: logout.NewMemoryLedger(logout.MemoryLedgerConfig{})})
	if err != nil {
		f.Fatal(err)
	}
	h.now = func() time.Time { return fuzzNow }
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secretB)}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Skip()
		}
		raw, err := jws.CompactSerialize()
		if err != nil {
			t.Skip()
		}
		tok, err := h.Verify(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if strings.TrimSuffix(tok.Issuer, "/") != issB || !slices.Contains(tok.Audience, "client-b") {
			t.Fatalf("accepted %q as a token of %q for %v", payload, tok.Issuer, tok.Audience)
		}
	})
}
