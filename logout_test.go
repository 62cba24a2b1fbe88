package logout

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildURL(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		p        Params
		want     url.Values
		wantBase string
	}{
		{
			name:     "GenAuth front-end logout",
			endpoint: "https://example.genauth.ai/oidc/session/end",
			p:        Params{IDTokenHint: "a.b.c", PostLogoutRedirectURI: "https://app.example.com/logout/callback", State: "xyz"},
			want: url.Values{
				"id_token_hint":            {"a.b.c"},
				"post_logout_redirect_uri": {"https://app.example.com/logout/callback"},
				"state":                    {"xyz"},
			},
			wantBase: "https://example.genauth.ai/oidc/session/end",
		},
		{
			name:     "reserved characters and non-ASCII",
			endpoint: "https://op.example.com/end",
			p: Params{
				IDTokenHint:           "a+b/c=d&e?f#g h",
				PostLogoutRedirectURI: "https://app.example.com/cb?next=/a&b=1#frag",
				State:                 "s+/=&?# 状态",
				ClientID:              "client id/1",
				LogoutHint:            "ada+test@example.com",
				UILocales:             "zh-CN en",
			},
			want: url.Values{
				"id_token_hint":            {"a+b/c=d&e?f#g h"},
				"post_logout_redirect_uri": {"https://app.example.com/cb?next=/a&b=1#frag"},
				"state":                    {"s+/=&?# 状态"},
				"client_id":                {"client id/1"},
				"logout_hint":              {"ada+test@example.com"},
				"ui_locales":               {"zh-CN en"},
			},
			wantBase: "https://op.example.com/end",
		},
		{
			name:     "endpoint query kept, named field wins",
			endpoint: "https://op.example.com/realms/x/logout?tenant=acme&client_id=old&a=1&a=2",
			p:        Params{ClientID: "new", Extra: url.Values{"prompt": {"none"}}},
			want: url.Values{
				"tenant":    {"acme"},
				"client_id": {"new"},
				"a":         {"1", "2"},
				"prompt":    {"none"},
			},
			wantBase: "https://op.example.com/realms/x/logout",
		},
		{
			name:     "client_id instead of id_token_hint",
			endpoint: "http://localhost:9998/session/end",
			p:        Params{ClientID: "web", PostLogoutRedirectURI: "http://127.0.0.1:8080/logout/callback"},
			want: url.Values{
				"client_id":                {"web"},
				"post_logout_redirect_uri": {"http://127.0.0.1:8080/logout/callback"},
			},
			wantBase: "http://localhost:9998/session/end",
		},
		{
			name:     "no parameters",
			endpoint: "https://op.example.com/end",
			want:     url.Values{},
			wantBase: "https://op.example.com/end",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildURL(tt.endpoint, tt.p)
			require.NoError(t, err)
			u, err := url.Parse(got)
			require.NoError(t, err)
			assert.Empty(t, u.Fragment, "a # in a value must not start a fragment")
			assert.Equal(t, tt.wantBase, u.Scheme+"://"+u.Host+u.Path)
			q, err := url.ParseQuery(u.RawQuery)
			require.NoError(t, err)
			assert.Equal(t, tt.want, q)
		})
	}
}

func TestBuildURLDoesNotModifyExtra(t *testing.T) {
	extra := url.Values{"a": {"1"}}
	_, err := BuildURL("https://op.example.com/end?a=0", Params{Extra: extra})
	require.NoError(t, err)
	assert.Equal(t, url.Values{"a": {"1"}}, extra)
}

func TestBuildURLErrors(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		p        Params
		want     error
	}{
		{"relative", "/oidc/session/end", Params{}, ErrInvalidEndpoint},
		{"no scheme", "op.example.com/end", Params{}, ErrInvalidEndpoint},
		{"scheme-relative", "//op.example.com/end", Params{}, ErrInvalidEndpoint},
		{"ftp", "ftp://op.example.com/end", Params{}, ErrInvalidEndpoint},
		{"javascript", "javascript:alert(1)", Params{}, ErrInvalidEndpoint},
		{"opaque", "https:op.example.com/end", Params{}, ErrInvalidEndpoint},
		{"no host", "https:///end", Params{}, ErrInvalidEndpoint},
		{"fragment", "https://op.example.com/end#x", Params{}, ErrInvalidEndpoint},
		{"empty fragment", "https://op.example.com/end#", Params{}, ErrInvalidEndpoint},
		{"userinfo", "https://user:pw@op.example.com/end", Params{}, ErrInvalidEndpoint},
		{"control character", "https://op.example.com/e\nnd", Params{}, ErrInvalidEndpoint},
		{"bad query", "https://op.example.com/end?a=%zz", Params{}, ErrInvalidEndpoint},
		{"empty", "", Params{}, ErrInvalidEndpoint},
		{"redirect without hint", "https://op.example.com/end", Params{PostLogoutRedirectURI: "https://app.example.com/cb", State: "s"}, ErrMissingHint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildURL(tt.endpoint, tt.p)
			assert.ErrorIs(t, err, tt.want)
			assert.Empty(t, got)
		})
	}
	t.Run("relative redirect URI", func(t *testing.T) {
		_, err := BuildURL("https://op.example.com/end", Params{IDTokenHint: "t", PostLogoutRedirectURI: "/cb"})
		assert.ErrorContains(t, err, "post_logout_redirect_uri")
	})
	t.Run("extra repeats a named field", func(t *testing.T) {
		_, err := BuildURL("https://op.example.com/end", Params{Extra: url.Values{"id_token_hint": {"x"}}})
		assert.ErrorContains(t, err, "id_token_hint")
	})
}

func TestGenAuthEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.genauth.ai":    "https://example.genauth.ai/oidc/session/end",
		"https://example.genauth.ai/":   "https://example.genauth.ai/oidc/session/end",
		"https://example.authing.cn//":  "https://example.authing.cn/oidc/session/end",
		"  https://example.genauth.ai ": "https://example.genauth.ai/oidc/session/end",
		"example.genauth.ai":            "https://example.genauth.ai/oidc/session/end",
		"http://localhost:3000":         "http://localhost:3000/oidc/session/end",
	} {
		assert.Equal(t, want, GenAuthEndpoint(in), in)
	}
}

func TestNewState(t *testing.T) {
	seen := make(map[string]bool, 1000)
	for range 1000 {
		s := NewState()
		require.Len(t, s, 43)
		raw, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(t, err)
		require.Len(t, raw, 32)
		require.False(t, seen[s])
		seen[s] = true
	}
}

// FuzzBuildURL checks that BuildURL's output always parses and that
// decoding it gives back exactly the inputs.
func FuzzBuildURL(f *testing.F) {
	f.Add("a.b.c", "https://app.example.com/cb", "state", "client", "hint", "en", "tenant=acme")
	f.Add("a+b/c=d&e?f#g h", "https://app.example.com/cb?x=1#y", "s/+=", "id with space", "", "zh-CN", "")
	f.Add("", "", "", "", "", "", "a=1&a=2")
	f.Add("\x00\xff", "myapp://logout", "\u200b", "%", "%zz", "\n", "q=%41")
	f.Fuzz(func(t *testing.T, token, redirect, state, clientID, hint, locales, endpointQuery string) {
		endpoint := "https://op.example.com/oidc/session/end"
		if endpointQuery != "" {
			endpoint += "?" + endpointQuery
		}
		p := Params{IDTokenHint: token, PostLogoutRedirectURI: redirect, State: state, ClientID: clientID, LogoutHint: hint, UILocales: locales}
		got, err := BuildURL(endpoint, p)
		if err != nil {
			return // refused inputs are covered by TestBuildURLErrors
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("BuildURL returned %q, which does not parse: %v", got, err)
		}
		if u.Scheme != "https" || u.Host != "op.example.com" || u.Path != "/oidc/session/end" || u.Fragment != "" {
			t.Fatalf("BuildURL moved the endpoint: %q", got)
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			t.Fatalf("query of %q does not parse: %v", got, err)
		}
		for name, want := range map[string]string{
			"id_token_hint": token, "post_logout_redirect_uri": redirect, "state": state,
			"client_id": clientID, "logout_hint": hint, "ui_locales": locales,
		} {
			if want == "" {
				continue
			}
			if vs := q[name]; len(vs) != 1 || vs[0] != want {
				t.Fatalf("%s: got %q, want exactly [%q]", name, vs, want)
			}
		}
		kept, _ := url.ParseQuery(endpointQuery)
		for name, vs := range kept {
			if isNamedParam(name) {
				continue
			}
			if strings.Join(q[name], "\x00") != strings.Join(vs, "\x00") {
				t.Fatalf("endpoint parameter %s: got %q, want %q", name, q[name], vs)
			}
		}
	})
}

func isNamedParam(name string) bool {
	switch name {
	case paramIDTokenHint, paramPostLogoutRedirectURI, paramState, paramClientID, paramLogoutHint, paramUILocales:
		return true
	}
	return false
}
