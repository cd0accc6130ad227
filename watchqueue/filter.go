//go:build linux

package watchqueue

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Filter limits.
const (
	MaxTypeFilters = 16 // entries in one filter, as the kernel allows

	filterHeaderSize = 8  // struct watch_notification_filter without its entries
	typeFilterSize   = 44 // struct watch_notification_type_filter
)

// SubtypeSet is a set of the 256 possible subtypes, laid out as the kernel's
// subtype_filter[8]: bit s%32 of word s/32 stands for subtype s.
//
// The kernel keeps only word 0 (subtypes 0..31) and drops the rest; a queue
// here honours all 256.
type SubtypeSet [8]uint32

// Add puts subtypes into the set.
func (s *SubtypeSet) Add(subtypes ...uint8) {
	for _, sub := range subtypes {
		s[sub>>5] |= 1 << (sub & 31)
	}
}

// Has reports whether sub is in the set.
func (s *SubtypeSet) Has(sub uint8) bool { return s[sub>>5]&(1<<(sub&31)) != 0 }

// TypeFilter is one entry of a Filter (struct watch_notification_type_filter).
// A record passes it when its type is Type, its subtype is in Subtypes, and
// its info word masked by InfoMask equals InfoFilter. InfoMask may select the
// watch tag and the type-specific bits, but never the length bits.
type TypeFilter struct {
	Type       Type
	InfoFilter uint32
	InfoMask   uint32
	Subtypes   SubtypeSet
}

// Filter decides which records a queue takes. With a filter set, a record
// passes when some entry accepts it and is dropped otherwise; with none set,
// every record passes. Removal and loss records are never filtered.
//
// Entries for types that are not registered (see RegisterType) are skipped
// without error, as the kernel skips types it does not know; a filter whose
// entries are all skipped rejects every filtered record.
type Filter struct {
	Types []TypeFilter
}

// validate applies the kernel's checks to a filter about to be set.
func (f *Filter) validate() error {
	if n := len(f.Types); n == 0 || n > MaxTypeFilters {
		return fmt.Errorf("watchqueue: filter has %d entries, want 1..%d (remove a filter with nil): %w", n, MaxTypeFilters, unix.EINVAL)
	}
	for i, tf := range f.Types {
		if tf.InfoFilter&^tf.InfoMask != 0 {
			return fmt.Errorf("watchqueue: filter entry %d: info_filter %#x has bits outside info_mask %#x: %w", i, tf.InfoFilter, tf.InfoMask, unix.EINVAL)
		}
		if tf.InfoMask&InfoLength != 0 {
			return fmt.Errorf("watchqueue: filter entry %d: info_mask %#x covers the length bits: %w", i, tf.InfoMask, unix.EINVAL)
		}
	}
	return nil
}

// compiledFilter is an immutable, validated filter holding only the entries
// whose types are registered. Queues swap it in with one atomic store, so a
// post sees either the old filter or the new one, never a mix.
type compiledFilter struct {
	entries []TypeFilter
}

func compileFilter(f *Filter) (*compiledFilter, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	cf := &compiledFilter{}
	for _, tf := range f.Types {
		// The fix for CVE-2022-0995 (c993ee0f9f81): a type the queue does not
		// know is skipped here, once, so matching never looks a type up in
		// anything sized by the known types.
		if tf.Type <= MaxType && IsRegistered(tf.Type) {
			cf.entries = append(cf.entries, tf)
		}
	}
	return cf, nil
}

// match reports whether a record with header h passes the filter.
func (cf *compiledFilter) match(h Header) bool {
	for i := range cf.entries {
		e := &cf.entries[i]
		if e.Type == h.Type && e.Subtypes.Has(h.Subtype) && h.Info&e.InfoMask == e.InfoFilter {
			return true
		}
	}
	return false
}

// ParseFilter decodes a filter from the kernel's struct watch_notification_filter
// layout (little-endian): u32 nr_filters, u32 __reserved, then nr_filters
// 44-byte entries of u32 type, u32 info_filter, u32 info_mask, u32
// subtype_filter[8]. It applies the same checks as SetFilter, and also
// rejects a buffer whose size is not exactly what nr_filters says.
func ParseFilter(b []byte) (*Filter, error) {
	if len(b) < filterHeaderSize {
		return nil, fmt.Errorf("watchqueue: filter needs at least %d bytes, have %d: %w", filterHeaderSize, len(b), unix.EINVAL)
	}
	nr := binary.LittleEndian.Uint32(b)
	if reserved := binary.LittleEndian.Uint32(b[4:]); reserved != 0 {
		return nil, fmt.Errorf("watchqueue: filter reserved field is %#x, must be 0: %w", reserved, unix.EINVAL)
	}
	// Checked before anything is sized from nr.
	if nr == 0 || nr > MaxTypeFilters {
		return nil, fmt.Errorf("watchqueue: filter has %d entries, want 1..%d: %w", nr, MaxTypeFilters, unix.EINVAL)
	}
	if want := filterHeaderSize + int(nr)*typeFilterSize; len(b) != want {
		return nil, fmt.Errorf("watchqueue: filter of %d entries is %d bytes, have %d: %w", nr, want, len(b), unix.EINVAL)
	}
	f := &Filter{Types: make([]TypeFilter, nr)}
	for i := range f.Types {
		e := b[filterHeaderSize+i*typeFilterSize:]
		tf := &f.Types[i]
		tf.Type = Type(binary.LittleEndian.Uint32(e))
		tf.InfoFilter = binary.LittleEndian.Uint32(e[4:])
		tf.InfoMask = binary.LittleEndian.Uint32(e[8:])
		for w := range tf.Subtypes {
			tf.Subtypes[w] = binary.LittleEndian.Uint32(e[12+4*w:])
		}
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// AppendBinary appends f in the kernel's struct watch_notification_filter layout.
func (f *Filter) AppendBinary(dst []byte) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f.Types)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	for _, tf := range f.Types {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(tf.Type))
		dst = binary.LittleEndian.AppendUint32(dst, tf.InfoFilter)
		dst = binary.LittleEndian.AppendUint32(dst, tf.InfoMask)
		for _, w := range tf.Subtypes {
			dst = binary.LittleEndian.AppendUint32(dst, w)
		}
	}
	return dst, nil
}
