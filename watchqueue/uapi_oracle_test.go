//go:build linux

package watchqueue_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// uapiProgram fills the kernel's own structs from <linux/watch_queue.h>, with
// their bitfields, and prints each as hex. The test encodes the same values
// with this package and compares: the C compiler is the oracle for layout.
const uapiProgram = `
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <linux/watch_queue.h>
#include <linux/keyctl.h>

static void dump(const char *name, const void *p, size_t n) {
	const unsigned char *b = p;
	printf("%s ", name);
	for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
	printf("\n");
}

int main(void) {
	struct key_notification k;
	memset(&k, 0, sizeof k);
	k.watch.type = WATCH_TYPE_KEY_NOTIFY;
	k.watch.subtype = NOTIFY_KEY_LINKED;
	k.watch.info = (0x2a << WATCH_INFO_ID__SHIFT) | sizeof k;
	k.key_id = 0x11223344;
	k.aux = 987654321;
	dump("key", &k, sizeof k);

	struct watch_notification_removal r;
	memset(&r, 0, sizeof r);
	r.watch.type = WATCH_TYPE_META;
	r.watch.subtype = WATCH_META_REMOVAL_NOTIFICATION;
	r.watch.info = (7 << WATCH_INFO_ID__SHIFT) | sizeof r;
	r.id = 0x0102030405060708ULL;
	dump("removal", &r, sizeof r);

	struct watch_notification l;
	memset(&l, 0, sizeof l);
	l.type = WATCH_TYPE_META;
	l.subtype = WATCH_META_LOSS_NOTIFICATION;
	l.info = sizeof l;
	dump("loss", &l, sizeof l);

	size_t fsz = sizeof(struct watch_notification_filter) + 2 * sizeof(struct watch_notification_type_filter);
	struct watch_notification_filter *f = calloc(1, fsz);
	f->nr_filters = 2;
	f->filters[0].type = WATCH_TYPE_KEY_NOTIFY;
	f->filters[0].info_filter = 3 << WATCH_INFO_ID__SHIFT;
	f->filters[0].info_mask = WATCH_INFO_ID;
	f->filters[0].subtype_filter[0] = (1 << NOTIFY_KEY_LINKED) | (1 << NOTIFY_KEY_UNLINKED);
	f->filters[1].type = 0x00abcdef;
	f->filters[1].subtype_filter[7] = 1u << 31;
	dump("filter", f, fsz);
	return 0;
}
`

func TestLayoutsMatchKernelHeaders(t *testing.T) {
	if _, err := os.Stat("/usr/include/linux/watch_queue.h"); err != nil {
		t.Skip("no /usr/include/linux/watch_queue.h (install linux-libc-dev) to check layouts against")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to check layouts against the kernel headers")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "uapi.c")
	if err := os.WriteFile(src, []byte(uapiProgram), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "uapi")
	if out, err := exec.Command(cc, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling the uapi oracle: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	kernel := map[string][]byte{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, hx, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatal(err)
		}
		kernel[name] = b
	}

	var filter watchqueue.Filter
	linkUnlink := watchqueue.TypeFilter{Type: watchqueue.TypeKeyNotify, InfoFilter: 3 << 8, InfoMask: watchqueue.InfoID}
	linkUnlink.Subtypes.Add(uint8(watchqueue.KeyLinked), uint8(watchqueue.KeyUnlinked))
	high := watchqueue.TypeFilter{Type: 0xabcdef}
	high.Subtypes.Add(255)
	filter.Types = []watchqueue.TypeFilter{linkUnlink, high}
	filterBytes, err := filter.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}

	ours := map[string][]byte{
		"key":     watchqueue.KeyNotification{Subtype: watchqueue.KeyLinked, Tag: 0x2a, KeyID: 0x11223344, Aux: 987654321}.AppendBinary(nil, false),
		"removal": watchqueue.Removal{Tag: 7, ID: 0x0102030405060708, HasID: true}.AppendBinary(nil, false),
		"loss":    watchqueue.Loss{}.AppendBinary(nil, false),
		"filter":  filterBytes,
	}
	for name, want := range kernel {
		if got := ours[name]; !bytes.Equal(got, want) {
			t.Errorf("%s: ours % x\nkernel's % x", name, got, want)
		}
	}
	if len(kernel) != len(ours) {
		t.Errorf("oracle printed %d layouts, want %d", len(kernel), len(ours))
	}

	// And the other way: what the kernel's structs hold decodes to the values.
	rec, n, err := watchqueue.Decode(kernel["key"], false)
	if err != nil || n != 16 {
		t.Fatalf("decoding the kernel's key_notification: %v (n=%d)", err, n)
	}
	if want := (watchqueue.KeyNotification{Subtype: watchqueue.KeyLinked, Tag: 0x2a, KeyID: 0x11223344, Aux: 987654321}); rec != want {
		t.Errorf("decoded %+v, want %+v", rec, want)
	}
	f, err := watchqueue.ParseFilter(kernel["filter"])
	if err != nil {
		t.Fatalf("parsing the kernel's filter: %v", err)
	}
	if len(f.Types) != 2 || f.Types[0] != linkUnlink || f.Types[1] != high {
		t.Errorf("parsed filter %+v, want %+v", f.Types, filter.Types)
	}
}
