package logout

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openRedirectCorpus holds return targets that must never pass: each would
// send the browser off the app's origin (or run script) in some browser or
// after some decoding step.
var openRedirectCorpus = []string{
	"//evil.com",
	"///evil.com",
	"////evil.com",
	"/\\evil.com",
	"\\\\evil.com",
	"\\/evil.com",
	"/\\/evil.com",
	"https:evil.com",
	"https:/evil.com",
	"http:evil.com",
	"https://evil.com",
	"http://evil.com/",
	"https://evil.com/?https://trusted.com",
	"/%2F%2Fevil.com",
	"/%2f%2fevil.com",
	"/%2Fevil.com",
	"/%5Cevil.com",
	"/%5cevil.com",
	"%2F%2Fevil.com",
	"/%252F%252Fevil.com",
	"/%25252F%25252Fevil.com",
	"http://trusted.com@evil.com",
	"https://trusted.com@evil.com",
	"https://trusted.com:443@evil.com",
	"https://trusted.com%40evil.com",
	"https://user:pass@trusted.com/",
	"https://trusted.com\\@evil.com",
	"https://evil.com\\.trusted.com",
	"https://trusted.com.evil.com",
	"https://eviltrusted.com",
	"https://trusted.com%2eevil.com",
	"/\t/evil.com",
	"/\n/evil.com",
	"/\r\n/evil.com",
	"/%09/evil.com",
	"/%0a/evil.com",
	"/%0D%0A/evil.com",
	"\t//evil.com",
	" //evil.com",
	"/ /evil.com",
	"/\x00/evil.com",
	"/%00/evil.com",
	"javascript:alert(1)",
	"JavaScript:alert(1)",
	"javascript://%0aalert(1)",
	"java\tscript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"vbscript:msgbox(1)",
	"HTTPS://trusted.com/",
	"Http://trusted.com/",
	"HTTPS://evil.com",
	"https://trusted.cοm/", // Greek omicron
	"https://truѕted.com/", // Cyrillic dze
	"https://xn--trsted-9ya.com/",
	"https://trusted.com./",
	"https://evil.com#https://trusted.com",
	"evil.com",
	"evil.com/path",
	"./evil",
	"../evil",
	"?next=//evil.com",
	"#//evil.com",
	"",
	"/%",
	"/%zz",
	"/%25zz",                // malformed only once decoded
	"/%2525zz",              // malformed after two rounds
	"/\u2215\u2215evil.com", // division slashes
	"/\uff0f\uff0fevil.com", // fullwidth solidus
	"/" + strings.Repeat("a", maxReturnToLen),
	"ftp://trusted.com/",
	"//trusted.com",
	"https:\\\\evil.com",
	"/\\\\evil.com",
}

// sameOriginCorpus holds targets that must pass.
var sameOriginCorpus = []string{
	"/",
	"/account",
	"/account/",
	"/orders/42?tab=items&sort=desc",
	"/search?q=a%20b",
	"/a/b#section",
	"/a//b",
	"/foo%2F%2Fbar",
	"/~alice/!$&'()*+,;=:@-._", // the first and last printable bytes a path may hold
	"/@ada",
	"/x:y",
	"https://trusted.com",
	"https://trusted.com/",
	"https://trusted.com/welcome?x=1#y",
	"https://TRUSTED.com/",
	"http://localhost:3000/done",
}

func newTestPolicy(t testing.TB) returnToPolicy {
	p, err := newReturnToPolicy([]string{"https://trusted.com", "http://localhost:3000"})
	require.NoError(t, err)
	return p
}

func TestReturnToRefusesOpenRedirects(t *testing.T) {
	require.GreaterOrEqual(t, len(openRedirectCorpus), 40)
	p := newTestPolicy(t)
	for _, target := range openRedirectCorpus {
		assert.False(t, p.allowed(target), "%q must be refused", target)
	}
}

func TestReturnToAcceptsSameOriginAndAllowlist(t *testing.T) {
	p := newTestPolicy(t)
	for _, target := range sameOriginCorpus {
		assert.True(t, p.allowed(target), "%q must be accepted", target)
	}
}

func TestReturnToWithoutAllowlistRefusesAbsoluteURLs(t *testing.T) {
	p, err := newReturnToPolicy(nil)
	require.NoError(t, err)
	assert.False(t, p.allowed("https://trusted.com/"))
	assert.True(t, p.allowed("/ok"))
}

func TestAllowedOriginsAreValidated(t *testing.T) {
	for _, o := range []string{"trusted.com", "https://trusted.com/path", "https://u@trusted.com", "javascript:x", "https://trusted.com?x", "https://", "https://[::1", "%zz://trusted.com"} {
		_, err := newReturnToPolicy([]string{o})
		assert.Error(t, err, o)
	}
}

// FuzzReturnTo checks that nothing the policy accepts can leave the app's
// origin or the allowlist, however a URL parser resolves it.
func FuzzReturnTo(f *testing.F) {
	for _, s := range openRedirectCorpus {
		f.Add(s)
	}
	for _, s := range sameOriginCorpus {
		f.Add(s)
	}
	p := newTestPolicy(f)
	base, err := url.Parse("https://app.example/base/page")
	require.NoError(f, err)
	allowedHosts := map[string]bool{"app.example": true, "trusted.com": true, "localhost:3000": true}
	f.Fuzz(func(t *testing.T, target string) {
		if !p.allowed(target) {
			return
		}
		for i := 0; i < len(target); i++ {
			if c := target[i]; c <= ' ' || c > '~' || c == '\\' {
				t.Fatalf("accepted %q with byte %#x", target, c)
			}
		}
		ref, err := url.Parse(target)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", target, err)
		}
		resolved := base.ResolveReference(ref)
		if resolved.Scheme != "https" && resolved.Scheme != "http" {
			t.Fatalf("accepted %q resolves to scheme %q", target, resolved.Scheme)
		}
		if !allowedHosts[strings.ToLower(resolved.Host)] || resolved.User != nil {
			t.Fatalf("accepted %q resolves to %q", target, resolved.String())
		}
		// A later handler may decode the path once more and redirect to it.
		if decoded, err := url.PathUnescape(target); err == nil && strings.HasPrefix(target, "/") {
			if strings.HasPrefix(decoded, "//") || strings.HasPrefix(decoded, "/\\") {
				t.Fatalf("accepted %q decodes to scheme-relative %q", target, decoded)
			}
		}
	})
}

// TestReturnToLengthBound pins the bound exactly: a same-origin path of
// maxReturnToLen bytes is accepted, one byte more is refused.
func TestReturnToLengthBound(t *testing.T) {
	p := newTestPolicy(t)
	atBound := "/" + strings.Repeat("a", maxReturnToLen-1)
	require.Len(t, atBound, maxReturnToLen)
	assert.True(t, p.allowed(atBound), "exactly %d bytes", maxReturnToLen)
	assert.False(t, p.allowed(atBound+"a"), "%d bytes", maxReturnToLen+1)
}
