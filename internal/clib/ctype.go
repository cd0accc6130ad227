package clib

// IsSpace is C's isspace in the C locale: space, \t, \n, \v, \f and \r.
// No byte from 0x80 up is a space, whether or not it starts a UTF-8
// encoding of one.
func IsSpace(c byte) bool { return c == ' ' || ('\t' <= c && c <= '\r') }

// IsSpaceRune is IsSpace for strings.FieldsFunc and friends: a rune from
// 0x80 up (a UTF-8 no-break space, say) is no space to C.
func IsSpaceRune(r rune) bool { return r < 0x80 && IsSpace(byte(r)) }

// IsPrint is C's isprint in the C locale: the ASCII characters from space
// to '~'. Control characters, DEL and every byte from 0x80 up are not.
func IsPrint(c byte) bool { return ' ' <= c && c <= '~' }

// DigitValue is c's value as a digit in the bases strtoul reads, 2 to 36
// ('0'-'9', then 'a'-'z' or 'A'-'Z' for 10 to 35), or 36 if it is none:
// c is a digit of base b exactly when DigitValue(c) < b, so that
// DigitValue(c) < 16 is C's isxdigit.
func DigitValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	}
	return 36
}
