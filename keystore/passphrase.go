//go:build linux

package keystore

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// The default cost is RFC 9106's second recommended option (section 4):
// t=3 passes over 64 MiB in 4 lanes, the one it gives for machines that
// cannot spend 2 GiB on its first. It is well above OWASP's Argon2id
// minimum (19 MiB, t=2, p=1), which is sized for servers checking many
// logins, while a store derives once per open. On a 2-core machine it
// takes about 65 ms with 4 lanes, the same as with 2 (the work is the
// same), while 1 lane takes 120 ms; 4 finish sooner where there are more
// cores. The lane count is in the header, so it cannot follow the machine.
const (
	defaultArgon2Time    = 3        // passes
	defaultArgon2Memory  = 64 << 10 // KiB: 64 MiB
	defaultArgon2Threads = 4        // lanes
	defaultSaltSize      = 16       // bytes: RFC 9106's 128 bits
)

// Limits on Argon2Params. A header outside them is taken as corrupt before
// anything is derived, so that a damaged or planted header cannot make an
// open hang or exhaust memory.
const (
	minSaltSize     = 16      // bytes: RFC 9106's minimum for password hashing
	maxSaltSize     = 64      // bytes: more adds nothing, and the length fits a byte
	maxArgon2Time   = 64      // passes: ~1.5 s at 64 MiB on 2 cores; for more cost, RFC 9106 says add memory
	maxArgon2Memory = 4 << 20 // KiB: 4 GiB
)

const (
	paramsVersion    = 1                             // Argon2id, Argon2 version 0x13
	paramsFixedSize  = 11                            // bytes before the salt: version, time, memory, threads, salt length
	paramsMinSize    = paramsFixedSize + crc32c.Size // bytes, with no salt
	argon2MemPerLane = 8                             // KiB: Argon2's floor, 8 blocks of 1 KiB per lane
)

// Argon2Params are the Argon2id cost and salt that turn a passphrase into
// a KEK. The store keeps them in clear, in the header MarshalBinary
// writes, and reads them back before asking for the passphrase: they are
// needed to derive the KEK and are no secret.
type Argon2Params struct {
	Time    uint32 // passes over memory, 1..64
	Memory  uint32 // KiB, 8 per thread up to 4 GiB (4194304)
	Threads uint8  // lanes, computed in parallel, at least 1
	Salt    []byte // 16..64 random bytes, unique to the store
}

// NewArgon2Params returns the default cost (t=3, 64 MiB, 4 lanes; see the
// comment on the constants for why) with a fresh 16-byte random salt.
func NewArgon2Params() Argon2Params {
	salt := make([]byte, defaultSaltSize)
	rand.Read(salt)
	return Argon2Params{
		Time:    defaultArgon2Time,
		Memory:  defaultArgon2Memory,
		Threads: defaultArgon2Threads,
		Salt:    salt,
	}
}

// DeriveKEK runs Argon2id over passphrase with p. It is slow by design, so
// derive once per open and Wipe the KEK once the data key is unwrapped.
// The passphrase is used as given, byte for byte, and not kept; wiping it
// is up to the caller.
//
// An empty passphrase or p outside its limits gives an error matching
// unix.EINVAL. A wrong passphrase cannot be told here: UnwrapDataKey tells
// it.
func DeriveKEK(passphrase []byte, p Argon2Params) (*KEK, error) {
	if err := checkFIPS(); err != nil {
		return nil, err
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("keystore: derive key: empty passphrase: %w", unix.EINVAL)
	}
	// The same limits as a header read back, so that no KEK is derived
	// from parameters that could not be stored.
	if problem := p.problem(); problem != "" {
		return nil, fmt.Errorf("keystore: derive key: argon2 parameters: %s: %w", problem, unix.EINVAL)
	}
	derived := argon2.IDKey(passphrase, p.Salt, p.Time, p.Memory, p.Threads, KeySize)
	key := new([KeySize]byte)
	copy(key[:], derived)
	clear(derived)
	return &KEK{key: newSecret(key)}, nil
}

// MarshalBinary returns the header the store keeps for p. Parameters
// outside their limits give an error matching unix.EINVAL.
//
// The header, format version 1, is 15+n bytes for an n-byte salt, with
// integers big-endian:
//
//	offset  size  field
//	0       1     format version, 1: Argon2id, Argon2 version 0x13
//	1       4     Time, passes
//	5       4     Memory, KiB
//	9       1     Threads
//	10      1     salt length n, 16..64
//	11      n     Salt
//	11+n    4     CRC-32C (Castagnoli) of bytes 0 to 10+n
//
// The checksum tells a damaged header from a wrong passphrase: without it,
// a changed Time or Salt would derive another KEK and read as a wrong
// passphrase.
func (p Argon2Params) MarshalBinary() ([]byte, error) {
	if problem := p.problem(); problem != "" {
		return nil, fmt.Errorf("keystore: marshal argon2 parameters: %s: %w", problem, unix.EINVAL)
	}
	b := make([]byte, 0, paramsFixedSize+len(p.Salt)+crc32c.Size)
	b = append(b, paramsVersion)
	b = binary.BigEndian.AppendUint32(b, p.Time)
	b = binary.BigEndian.AppendUint32(b, p.Memory)
	b = append(b, p.Threads, byte(len(p.Salt)))
	b = append(b, p.Salt...)
	return binary.BigEndian.AppendUint32(b, crc32c.Checksum(b)), nil
}

// UnmarshalBinary reads a header made by MarshalBinary into p, copying the
// salt out of b. A header that is truncated, damaged, of an unknown version
// or outside the limits gives an error matching ErrCorrupt and leaves p
// unchanged.
func (p *Argon2Params) UnmarshalBinary(b []byte) error {
	switch {
	case len(b) == 0:
		return fmt.Errorf("%w: argon2 parameters: header is empty", ErrCorrupt)
	case b[0] != paramsVersion:
		return fmt.Errorf("%w: argon2 parameters: header format version %d is not supported", ErrCorrupt, b[0])
	case len(b) < paramsMinSize:
		return fmt.Errorf("%w: argon2 parameters: header is %d bytes, shorter than the %d-byte minimum", ErrCorrupt, len(b), paramsMinSize)
	}
	saltLen := int(b[10])
	if want := paramsFixedSize + saltLen + crc32c.Size; len(b) != want {
		return fmt.Errorf("%w: argon2 parameters: header is %d bytes, its %d-byte salt needs %d", ErrCorrupt, len(b), saltLen, want)
	}
	q := Argon2Params{
		Time:    binary.BigEndian.Uint32(b[1:]),
		Memory:  binary.BigEndian.Uint32(b[5:]),
		Threads: b[9],
		Salt:    b[paramsFixedSize : paramsFixedSize+saltLen],
	}
	// Limits before the checksum: both mean corrupt, and a fuzzer that
	// cannot forge a CRC still reaches every limit this way.
	if problem := q.problem(); problem != "" {
		return fmt.Errorf("%w: argon2 parameters: %s", ErrCorrupt, problem)
	}
	end := paramsFixedSize + saltLen
	if crc32c.Checksum(b[:end]) != binary.BigEndian.Uint32(b[end:]) {
		return fmt.Errorf("%w: argon2 parameters: header fails its checksum", ErrCorrupt)
	}
	// bbolt's values live only as long as their transaction.
	q.Salt = append([]byte(nil), q.Salt...)
	*p = q
	return nil
}

// problem says what puts p outside its limits, or "" if nothing does.
func (p *Argon2Params) problem() string {
	switch {
	case p.Time < 1 || p.Time > maxArgon2Time:
		return fmt.Sprintf("time is %d passes, want 1..%d", p.Time, maxArgon2Time)
	case p.Threads < 1:
		return "threads is 0, want at least 1"
	case p.Memory < argon2MemPerLane*uint32(p.Threads) || p.Memory > maxArgon2Memory:
		return fmt.Sprintf("memory is %d KiB, want %d KiB (8 per thread) to %d KiB (4 GiB)",
			p.Memory, argon2MemPerLane*uint32(p.Threads), maxArgon2Memory)
	case len(p.Salt) < minSaltSize || len(p.Salt) > maxSaltSize:
		return fmt.Sprintf("salt is %d bytes, want %d..%d", len(p.Salt), minSaltSize, maxSaltSize)
	}
	return ""
}
