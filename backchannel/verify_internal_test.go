package backchannel

import (
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHMACNeedsTheClientSecret checks verifySignature's own guard: a
// verifier without a client secret refuses an HMAC-signed token, whatever
// key signed it, even were the algorithm to reach it.
func TestHMACNeedsTheClientSecret(t *testing.T) {
	for _, key := range [][]byte{make([]byte, 32), []byte(fuzzSecret)} {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key}, nil)
		require.NoError(t, err)
		signed, err := s.Sign([]byte(`{}`))
		require.NoError(t, err)
		compact, err := signed.CompactSerialize()
		require.NoError(t, err)
		jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.HS256})
		require.NoError(t, err)
		v := &verifier{issuer: fuzzIssuer, clientID: fuzzClientID, algs: []jose.SignatureAlgorithm{jose.HS256}}
		payload, err := v.verifySignature(t.Context(), jws, jws.Signatures[0].Protected)
		assert.Nil(t, payload)
		require.True(t, errors.Is(err, ErrInvalidToken), "%v", err)
		assert.EqualError(t, err, "backchannel: invalid logout token: algorithm HS256 needs the client secret")
	}
}
