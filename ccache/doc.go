// Package ccache reads and writes MIT Kerberos FILE credential caches,
// format versions 1 to 4, byte for byte.
//
// It is the ground on which keyctl-go imports and exports Kerberos caches:
// a KEYRING cache holds the same principal and credential records as a FILE
// cache of version 4, so moving between the two is a re-framing of what this
// package decodes.
//
// # Basics
//
// [Parse] decodes a whole cache held in memory and [File.Marshal] encodes it
// again. [ReadFile] and [WriteFile] do the same for a path, with a size cap
// on reading and MIT's mode 0600 and rename-over-the-old-file on writing.
//
// A [File] keeps everything the bytes say, so that Parse followed by Marshal
// gives back the input exactly:
//
//   - the format version, and with it the byte order (big-endian for
//     versions 3 and 4, little-endian for 1 and 2, see Caveats);
//   - every tagged field of the version 4 header, in order, known or not
//     (tag 1 is the KDC time offset, see [File.TimeOffset]);
//   - the default principal and every credential in file order, including
//     configuration entries (server realm "X-CACHECONF:") and records that
//     MIT or Heimdal marked as removed. Those are ordinary [Credential]
//     values; [Credential.IsConfig] and [Credential.IsRemoved] tell them
//     apart, and a copy keeps them.
//
// # Caveats
//
//   - Versions 1 and 2 store integers in the byte order of the machine that
//     wrote the file. This package reads and writes them little-endian, as
//     MIT writes them on x86 and arm64; a version 1 or 2 file made on a
//     big-endian machine decodes to nonsense or an error.
//   - Version 1 has no principal name types. Parsing gives NameType 0
//     (NT-UNKNOWN) and Marshal drops the name type when writing version 1.
//   - Version 3 writes each key's enctype twice and readers ignore the second
//     copy. A second copy that differed from the first is remembered inside
//     the [Keyblock] (unexported) so that it is written back unchanged.
//   - Key bytes are secret: [Key] redacts itself when formatted, but the
//     slices returned by Parse alias nothing and stay in memory until
//     garbage collected.
//   - WriteFile does not take MIT's fcntl lock. It replaces the file by
//     rename, so a reader sees the old or the new cache whole, but a
//     concurrent MIT store into the old file is lost, as with kinit.
//   - The parser is strict and bounded: every length and count is checked
//     against the bytes that remain and against the caps below before
//     anything is allocated, and errors are [*FormatError] values naming the
//     field and the byte offset.
package ccache
