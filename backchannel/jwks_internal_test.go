package backchannel

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"math/big"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
)

// TestMatchKeys checks which keys of a set may verify a token's
// signature: the public, valid keys for signing, of the token's kid when
// it names one.
func TestMatchKeys(t *testing.T) {
	pub := &rsa.PublicKey{N: rsaModulus(), E: 65537}
	keys := []jose.JSONWebKey{
		{Key: pub, KeyID: "a", Use: "sig"},
		{Key: pub, KeyID: "a", Use: ""},
		{Key: pub, KeyID: "b", Use: "sig"},
		{Key: pub, KeyID: "a", Use: "enc"},
		{Key: &rsa.PublicKey{}, KeyID: "a"},                 // not valid
		{Key: &ecdsa.PublicKey{}, KeyID: "a"},               // not valid
		{Key: []byte("a symmetric key"), KeyID: "a"},        // not public
		{Key: &rsa.PrivateKey{PublicKey: *pub}, KeyID: "a"}, // not public
	}
	set := &jose.JSONWebKeySet{Keys: keys}
	assert.Equal(t, keys[:2], matchKeys(set, "a"))
	assert.Equal(t, keys[2:3], matchKeys(set, "b"))
	assert.Equal(t, keys[:3], matchKeys(set, ""), "every signing key when the token names no kid")
	assert.Empty(t, matchKeys(set, "c"))
	assert.Empty(t, matchKeys(nil, "a"), "no set yet")
}

// rsaModulus returns a 2048-bit odd modulus; the keys of TestMatchKeys
// are never used to verify anything.
func rsaModulus() *big.Int {
	return new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 2047), big.NewInt(1))
}
