package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGenAuthIssuer(t *testing.T) {
	tests := []struct{ host, want string }{
		{"", ""},
		{"  ", ""},
		{"https://example.genauth.ai", "https://example.genauth.ai/oidc"},
		{"https://example.genauth.ai/", "https://example.genauth.ai/oidc"},
		{"example.authing.cn", "https://example.authing.cn/oidc"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, genAuthIssuer(tt.host), "host %q", tt.host)
	}
}
