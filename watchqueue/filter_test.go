//go:build linux

package watchqueue_test

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

func keyHeader(sub watchqueue.KeySubtype, tag uint8) watchqueue.Header {
	return watchqueue.KeyNotification{Subtype: sub, Tag: tag}.Header()
}

func subtypes(subs ...uint8) watchqueue.SubtypeSet {
	var s watchqueue.SubtypeSet
	s.Add(subs...)
	return s
}

func TestFilterMatching(t *testing.T) {
	const customType watchqueue.Type = 0x00c0ffee
	if err := watchqueue.RegisterType(customType); err != nil {
		t.Fatal(err)
	}
	linkOnly := watchqueue.TypeFilter{Type: watchqueue.TypeKeyNotify, Subtypes: subtypes(uint8(watchqueue.KeyLinked))}
	tagTwo := watchqueue.TypeFilter{
		Type: watchqueue.TypeKeyNotify, Subtypes: subtypes(0, 1, 2, 3, 4, 5, 6, 7),
		InfoMask: watchqueue.InfoID, InfoFilter: 2 << watchqueue.InfoIDShift,
	}
	for _, tc := range []struct {
		name   string
		filter *watchqueue.Filter
		h      watchqueue.Header
		want   bool
	}{
		{"no filter passes all", nil, keyHeader(watchqueue.KeyUpdated, 0), true},
		{"subtype in set", &watchqueue.Filter{Types: []watchqueue.TypeFilter{linkOnly}}, keyHeader(watchqueue.KeyLinked, 1), true},
		{"subtype not in set", &watchqueue.Filter{Types: []watchqueue.TypeFilter{linkOnly}}, keyHeader(watchqueue.KeyUnlinked, 1), false},
		{"other type rejected by default", &watchqueue.Filter{Types: []watchqueue.TypeFilter{linkOnly}}, watchqueue.Header{Type: customType, Info: 8}, false},
		{"info mask on the tag matches", &watchqueue.Filter{Types: []watchqueue.TypeFilter{tagTwo}}, keyHeader(watchqueue.KeyUpdated, 2), true},
		{"info mask on the tag rejects", &watchqueue.Filter{Types: []watchqueue.TypeFilter{tagTwo}}, keyHeader(watchqueue.KeyUpdated, 3), false},
		{"any entry may accept", &watchqueue.Filter{Types: []watchqueue.TypeFilter{tagTwo, linkOnly}}, keyHeader(watchqueue.KeyLinked, 9), true},
		{"subtype 200 filterable (the kernel keeps only 0..31)",
			&watchqueue.Filter{Types: []watchqueue.TypeFilter{{Type: customType, Subtypes: subtypes(200)}}},
			watchqueue.Header{Type: customType, Subtype: 200, Info: 8}, true},
		{"subtype 232 is not 200",
			&watchqueue.Filter{Types: []watchqueue.TypeFilter{{Type: customType, Subtypes: subtypes(200)}}},
			watchqueue.Header{Type: customType, Subtype: 232, Info: 8}, false},
		{"unregistered type skipped, so nothing passes",
			&watchqueue.Filter{Types: []watchqueue.TypeFilter{{Type: 0x00beef, Subtypes: subtypes(0)}}},
			watchqueue.Header{Type: 0x00beef, Info: 8}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := sized(t, 1, watchqueue.Options{})
			if err := q.SetFilter(tc.filter); err != nil {
				t.Fatal(err)
			}
			if got := q.Wants(tc.h); got != tc.want {
				t.Errorf("Wants(%+v) = %v, want %v", tc.h, got, tc.want)
			}
		})
	}
}

func TestFilterValidation(t *testing.T) {
	valid := watchqueue.TypeFilter{Type: watchqueue.TypeKeyNotify, Subtypes: subtypes(1)}
	for _, tc := range []struct {
		name string
		f    *watchqueue.Filter
	}{
		{"no entries", &watchqueue.Filter{}},
		{"17 entries", &watchqueue.Filter{Types: make([]watchqueue.TypeFilter, 17)}},
		{"info_filter outside info_mask", &watchqueue.Filter{Types: []watchqueue.TypeFilter{{InfoFilter: 0x100, InfoMask: 0}}}},
		{"mask covers the length", &watchqueue.Filter{Types: []watchqueue.TypeFilter{{InfoMask: 0x1}}}},
		{"bad entry of an unknown type still checked", &watchqueue.Filter{Types: []watchqueue.TypeFilter{valid, {Type: 0xffffff, InfoMask: 0x7f}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := sized(t, 1, watchqueue.Options{})
			if err := q.SetFilter(&watchqueue.Filter{Types: []watchqueue.TypeFilter{valid}}); err != nil {
				t.Fatal(err)
			}
			if err := q.SetFilter(tc.f); !errors.Is(err, unix.EINVAL) {
				t.Errorf("SetFilter = %v, want EINVAL", err)
			}
			// The refused filter left the old one in place.
			if !q.Wants(keyHeader(1, 0)) || q.Wants(keyHeader(2, 0)) {
				t.Error("a refused filter changed what the queue takes")
			}
		})
	}
	if err := sized(t, 1, watchqueue.Options{}).SetFilter(&watchqueue.Filter{Types: make([]watchqueue.TypeFilter, 16)}); err != nil {
		t.Errorf("16 entries refused: %v", err)
	}
}

func TestParseFilterRejectsMalformedBytes(t *testing.T) {
	good, _ := (&watchqueue.Filter{Types: []watchqueue.TypeFilter{{Type: 1}}}).AppendBinary(nil)
	reserved := append([]byte(nil), good...)
	reserved[4] = 1
	huge := append([]byte(nil), good...)
	huge[0], huge[3] = 0xff, 0xff // nr_filters 0xff0000ff: must not be sized from
	for name, b := range map[string][]byte{
		"empty":           nil,
		"short header":    good[:7],
		"reserved set":    reserved,
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(append([]byte(nil), good...), 0),
		"nr_filters 0":    {0, 0, 0, 0, 0, 0, 0, 0},
		"nr_filters huge": huge,
	} {
		if _, err := watchqueue.ParseFilter(b); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s: ParseFilter = %v, want EINVAL", name, err)
		}
	}
	if _, err := watchqueue.ParseFilter(good); err != nil {
		t.Errorf("well-formed filter refused: %v", err)
	}
}

func TestRegisterTypeBeyondField(t *testing.T) {
	if err := watchqueue.RegisterType(watchqueue.MaxType + 1); !errors.Is(err, unix.EINVAL) {
		t.Errorf("RegisterType(2^24) = %v, want EINVAL", err)
	}
	if !watchqueue.IsRegistered(watchqueue.TypeMeta) || !watchqueue.IsRegistered(watchqueue.TypeKeyNotify) {
		t.Error("built-in types are not registered")
	}
}

// Filters are swapped whole: posters racing SetFilter see the old filter
// or the new one. Neither filter accepts an unlink tagged 1, so no answer
// may accept one, and -race sees no shared mutation.
func TestSetFilterIsAtomicWithPosting(t *testing.T) {
	linkTag1 := &watchqueue.Filter{Types: []watchqueue.TypeFilter{{
		Type: watchqueue.TypeKeyNotify, Subtypes: subtypes(uint8(watchqueue.KeyLinked)),
		InfoMask: watchqueue.InfoID, InfoFilter: 1 << watchqueue.InfoIDShift,
	}}}
	unlinkTag2 := &watchqueue.Filter{Types: []watchqueue.TypeFilter{{
		Type: watchqueue.TypeKeyNotify, Subtypes: subtypes(uint8(watchqueue.KeyUnlinked)),
		InfoMask: watchqueue.InfoID, InfoFilter: 2 << watchqueue.InfoIDShift,
	}}}
	q := sized(t, 1, watchqueue.Options{})
	if err := q.SetFilter(linkTag1); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stop := make(chan struct{})
	defer func() { close(stop); <-done }()
	go func() {
		defer close(done)
		for i := range 5000 {
			select {
			case <-stop:
				return
			default:
			}
			f := linkTag1
			if i%2 == 1 {
				f = unlinkTag2
			}
			if err := q.SetFilter(f); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	neither := keyHeader(watchqueue.KeyUnlinked, 1)
	either := 0
	for {
		select {
		case <-done:
			if either == 0 {
				t.Log("the poster never saw a filter accept its other record; the race was not exercised")
			}
			return
		default:
		}
		if q.Wants(neither) {
			t.Fatal("a record neither filter accepts passed: a torn filter")
		}
		if q.Wants(keyHeader(watchqueue.KeyLinked, 1)) {
			either++
		}
	}
}
