package ccache

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Version is a FILE cache format version, 1 to 4. On disk it is the
// big-endian 16-bit word 0x0500+Version.
type Version uint8

// Format versions.
const (
	Version1 Version = 1 // host byte order; principals without name type, realm counted as a component
	Version2 Version = 2 // host byte order
	Version3 Version = 3 // big-endian; keyblock enctype written twice
	Version4 Version = 4 // big-endian; tagged header; what MIT writes by default
)

// versionBase is the high byte every file starts with.
const versionBase = 0x0500

func (v Version) valid() bool { return v >= Version1 && v <= Version4 }

// byteOrder both reads and appends integers.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// order returns the byte order of integers in a file of version v.
func (v Version) order() byteOrder {
	if v <= Version2 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// Header tags of version 4.
const (
	// TagTimeOffset holds the KDC time minus the client time: s32 seconds,
	// s32 microseconds (8 bytes, big-endian).
	TagTimeOffset uint16 = 1
)

// HeaderField is one tagged field of the version 4 header.
type HeaderField struct {
	Tag   uint16
	Value []byte
}

// Caps that bound what a parse may allocate. MIT has no such caps; these
// are far above anything MIT writes and only stop hostile counts.
const (
	// MaxFileSize is the largest cache ReadFile accepts, in bytes.
	MaxFileSize = 64 << 20
	// maxComponents caps a principal's component count.
	maxComponents = 1024
	// maxListLen caps the number of addresses or authdata elements of one
	// credential.
	maxListLen = 1 << 16
)

// File is a decoded FILE credential cache.
type File struct {
	Version Version
	// Header holds the tagged fields of a version 4 header, in file order.
	// MIT writes one TagTimeOffset field; other tags are kept as read.
	Header           []HeaderField
	DefaultPrincipal Principal
	// Credentials are the records in file order, configuration entries and
	// removed records included.
	Credentials []Credential
}

// TimeOffset returns the KDC time offset of the version 4 header, if the
// header has one.
func (f *File) TimeOffset() (seconds, microseconds int32, ok bool) {
	for _, h := range f.Header {
		if h.Tag == TagTimeOffset && len(h.Value) == 8 {
			return int32(binary.BigEndian.Uint32(h.Value)), int32(binary.BigEndian.Uint32(h.Value[4:])), true
		}
	}
	return 0, 0, false
}

// SetTimeOffset sets the time-offset field of the header, adding it first if
// the header has none. It is only written in version 4.
func (f *File) SetTimeOffset(seconds, microseconds int32) {
	v := binary.BigEndian.AppendUint32(nil, uint32(seconds))
	v = binary.BigEndian.AppendUint32(v, uint32(microseconds))
	for i := range f.Header {
		if f.Header[i].Tag == TagTimeOffset {
			f.Header[i].Value = v
			return
		}
	}
	f.Header = append([]HeaderField{{Tag: TagTimeOffset, Value: v}}, f.Header...)
}

// ReadFile reads and parses the cache at path. Files larger than
// MaxFileSize are refused before they are read whole.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ccache: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("ccache: read %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("ccache: %s: larger than %d bytes: %w", path, MaxFileSize, ErrTooLarge)
	}
	return Parse(b)
}

// WriteFile encodes f and replaces the file at path the way MIT kinit does:
// it writes a temporary file with mode 0600 in the same directory, then
// renames it over path.
func WriteFile(path string, f *File) error {
	b, err := f.Marshal()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("ccache: %w", err)
	}
	name := tmp.Name()
	// CreateTemp already uses 0600; Chmod makes it independent of that.
	if err = tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(b)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("ccache: write %s: %w", path, err)
	}
	return nil
}
