package logout

import (
	"fmt"
	"slices"
	"strings"
)

// clearSiteDataTypes are the types Clear-Site-Data accepts.
var clearSiteDataTypes = []string{"cache", "cookies", "storage", "executionContexts", "*"}

// clearSiteData holds the Clear-Site-Data header values, built once by New.
type clearSiteData struct {
	// final is sent with the last response of a logout: the callback's
	// redirect, or a local-only logout's. Empty: none.
	final string
	// toProvider is sent with the logout response that sends the browser
	// to the provider and sets the state cookie, so it never holds
	// "cookies" (which would delete that cookie). Empty: none.
	toProvider string
}

// newClearSiteData validates the types of Config.ClearSiteData: nil means
// "cache", an empty slice means none.
func newClearSiteData(types []string) (clearSiteData, error) {
	if types == nil {
		types = []string{"cache"}
	}
	var all, noCookies []string
	for _, t := range types {
		if !slices.Contains(clearSiteDataTypes, t) {
			return clearSiteData{}, fmt.Errorf("Config.ClearSiteData: unknown type %q (want one of %s)", t, strings.Join(clearSiteDataTypes, ", "))
		}
		if slices.Contains(all, t) {
			return clearSiteData{}, fmt.Errorf("Config.ClearSiteData: %q given twice", t)
		}
		all = append(all, t)
		switch t {
		case "cookies":
		case "*": // every type but cookies
			noCookies = append(noCookies, "cache", "storage", "executionContexts")
		default:
			noCookies = append(noCookies, t)
		}
	}
	if slices.Contains(all, "*") {
		all = []string{"*"}
	}
	slices.Sort(noCookies)
	return clearSiteData{final: quoteList(all), toProvider: quoteList(slices.Compact(noCookies))}, nil
}

// quoteList returns types as a header value: "cache", "storage".
func quoteList(types []string) string {
	if len(types) == 0 {
		return ""
	}
	return `"` + strings.Join(types, `", "`) + `"`
}
