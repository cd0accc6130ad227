//go:build linux

package secretservice_test

import (
	"context"
	"strings"
	"testing"
)

// secret-tool (libsecret) stores, looks up, searches and clears through
// the provider, with the DH session libsecret always opens, and what it
// stores is a secret of the store's.
func TestSecretTool(t *testing.T) {
	need(t, "secret-tool", "libsecret-tools")
	e := newEnv(t)
	ctx := context.Background()
	if out, errs, code := e.run(t, "s3cr3t", "secret-tool", "store", "--label=My mail", "service", "imap", "user", "alice"); code != 0 {
		t.Fatalf("store: exit %d, %q %q", code, out, errs)
	}
	if out, errs, code := e.run(t, "", "secret-tool", "lookup", "service", "imap", "user", "alice"); code != 0 || out != "s3cr3t" {
		t.Fatalf("lookup: exit %d, %q %q", code, out, errs)
	}
	// Stored again with the same attributes: replaced, not added.
	e.run(t, "n3w", "secret-tool", "store", "--label=My mail", "service", "imap", "user", "alice")
	if out, _, _ := e.run(t, "", "secret-tool", "lookup", "service", "imap", "user", "alice"); out != "n3w" {
		t.Errorf("lookup after the second store: %q", out)
	}
	items, err := e.st.List(ctx, "login")
	if err != nil || len(items) != 1 || items[0].Label != "My mail" || items[0].Attributes["user"] != "alice" {
		t.Fatalf("the store's login collection: %+v, %v", items, err)
	}
	if got, _ := e.st.Get(ctx, "login", items[0].Account); string(got) != "n3w" {
		t.Errorf("the store holds %q", got)
	}

	// search prints the attributes on stderr.
	out, errs, code := e.run(t, "", "secret-tool", "search", "--all", "service", "imap")
	if code != 0 || !strings.Contains(out, "label = My mail") || !strings.Contains(out, "secret = n3w") || !strings.Contains(errs, "attribute.user = alice") {
		t.Errorf("search: exit %d, %q %q", code, out, errs)
	}
	if _, errs, code := e.run(t, "", "secret-tool", "clear", "service", "imap"); code != 0 {
		t.Fatalf("clear: exit %d, %q", code, errs)
	}
	if out, _, code := e.run(t, "", "secret-tool", "lookup", "service", "imap", "user", "alice"); code != 1 || out != "" {
		t.Errorf("lookup after clear: exit %d, %q", code, out)
	}
	if items, _ := e.st.List(ctx, "login"); len(items) != 0 {
		t.Errorf("after clear the store holds %d items", len(items))
	}
}
