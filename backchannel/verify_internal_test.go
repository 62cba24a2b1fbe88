package backchannel

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

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

// TestNumericDate checks how a NumericDate claim is read: a JSON number of
// seconds after the epoch, above zero and at most 10^12, maybe fractional.
func TestNumericDate(t *testing.T) {
	tests := []struct {
		raw     string // "" leaves the claim out
		want    time.Time
		wantErr string
	}{
		{"", time.Time{}, ""},
		{"1700000000", time.Unix(1_700_000_000, 0), ""},
		{"1700000000.5", time.Unix(1_700_000_000, 500_000_000), ""},
		{"1.7e9", time.Unix(1_700_000_000, 0), ""},
		{"9", time.Unix(9, 0), ""},
		{"1", time.Unix(1, 0), ""},
		{"1e12", time.Unix(1_000_000_000_000, 0), ""},
		{"1000000000001", time.Time{}, "iat is not a plausible date"},
		{"0", time.Time{}, "iat is not a plausible date"},
		{"0.5", time.Unix(0, 500_000_000), ""},
		{"-1", time.Time{}, "iat is not a plausible date"},
		{"-", time.Time{}, "iat is not a plausible date"},
		{`"1700000000"`, time.Time{}, "iat is not a number"},
		{"null", time.Time{}, "iat is not a number"},
		{"true", time.Time{}, "iat is not a number"},
		{"[1700000000]", time.Time{}, "iat is not a number"},
		{"/1", time.Time{}, "iat is not a number"},
		{":1", time.Time{}, "iat is not a number"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			c := claimSet{}
			if tc.raw != "" {
				c["iat"] = json.RawMessage(tc.raw)
			}
			got, present, err := c.numericDate("iat")
			assert.Equal(t, tc.raw != "", present)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidToken)
				assert.EqualError(t, err, "backchannel: invalid logout token: "+tc.wantErr)
				assert.True(t, got.IsZero())
				return
			}
			require.NoError(t, err)
			assert.True(t, tc.want.Equal(got), "got %v", got)
		})
	}
}
