package keyspec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/internal/clib"
	"github.com/keyctl-go/keyctl-go/internal/keyspec"
)

// The cases come from running keyutils 1.6.3's keyctl describe on each
// argument and noting what it made of it.
func TestParse(t *testing.T) {
	tests := []struct {
		arg  string
		want keyspec.Spec
		err  error
		msg  string
	}{
		{arg: "@t", want: keyspec.Spec{ID: -1}},
		{arg: "@p", want: keyspec.Spec{ID: -2}},
		{arg: "@s", want: keyspec.Spec{ID: -3}},
		{arg: "@u", want: keyspec.Spec{ID: -4}},
		{arg: "@us", want: keyspec.Spec{ID: -5}},
		{arg: "@g", want: keyspec.Spec{ID: -6}},
		{arg: "@a", want: keyspec.Spec{ID: -7}},
		{arg: "123", want: keyspec.Spec{ID: 123}},
		{arg: "0x7fffffff", want: keyspec.Spec{ID: 0x7fffffff}},
		{arg: "0X1f", want: keyspec.Spec{ID: 0x1f}},
		{arg: "017", want: keyspec.Spec{ID: 15}},
		{arg: " 5", want: keyspec.Spec{ID: 5}},
		{arg: "+5", want: keyspec.Spec{ID: 5}},
		{arg: "-3", want: keyspec.Spec{ID: -3}},
		{arg: "-0", want: keyspec.Spec{ID: 0}},
		{arg: "", want: keyspec.Spec{ID: 0}},
		{arg: "4294967293", want: keyspec.Spec{ID: -3}},
		{arg: "99999999999", want: keyspec.Spec{ID: 1215752191}},
		{arg: "99999999999999999999999", want: keyspec.Spec{ID: -1}},
		{arg: "%user:name", want: keyspec.Spec{ByName: true, Type: "user", Desc: "name"}},
		{arg: "%user:a:b", want: keyspec.Spec{ByName: true, Type: "user", Desc: "a:b"}},
		{arg: "%:ring", want: keyspec.Spec{ByName: true, Type: "keyring", Desc: "ring"}},
		{arg: "abc", err: keyspec.ErrUnparsable, msg: "Unparsable key: 'abc'"},
		{arg: "12abc", err: keyspec.ErrUnparsable, msg: "Unparsable key: '12abc'"},
		{arg: "0x", err: keyspec.ErrUnparsable, msg: "Unparsable key: '0x'"},
		{arg: "08", err: keyspec.ErrUnparsable, msg: "Unparsable key: '08'"},
		{arg: "-y", err: keyspec.ErrUnparsable, msg: "Unparsable key: '-y'"},
		{arg: "-", err: keyspec.ErrUnparsable, msg: "Unparsable key: '-'"},
		{arg: "  ", err: keyspec.ErrUnparsable, msg: "Unparsable key: '  '"},
		{arg: "@x", err: keyspec.ErrUnknownSpecial, msg: "Unknown special key: '@x'"},
		{arg: "@S", err: keyspec.ErrUnknownSpecial, msg: "Unknown special key: '@S'"},
		{arg: "@", err: keyspec.ErrUnknownSpecial, msg: "Unknown special key: '@'"},
		{arg: "%", err: keyspec.ErrByName, msg: "Incorrect key-by-name spec"},
		{arg: "%user", err: keyspec.ErrByName, msg: "Incorrect key-by-name spec"},
		{arg: "%user:", err: keyspec.ErrByName, msg: "Incorrect key-by-name spec"},
		{arg: "%:", err: keyspec.ErrByName, msg: "Incorrect key-by-name spec"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := keyspec.Parse(tt.arg)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || err.Error() != tt.msg {
					t.Fatalf("Parse(%q) error = %v, want %q (%v)", tt.arg, err, tt.msg, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tt.arg, got, err, tt.want)
			}
		})
	}
}

// FuzzParseKeySpec checks that Parse never panics, that what it accepts it
// can say back, and that a number it accepts is one strtoul reads whole.
func FuzzParseKeySpec(f *testing.F) {
	for _, s := range []string{"@s", "@us", "%user:name", "%:ring", "0x1f", "017", "-3", "", "12abc", "@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		spec, err := keyspec.Parse(arg)
		if err != nil {
			var e *keyspec.Error
			if !errors.As(err, &e) || e.Arg != arg || e.Error() == "" {
				t.Fatalf("Parse(%q) error %v is not a keyspec.Error for the argument", arg, err)
			}
			return
		}
		if spec.ByName {
			if spec.Type == "" || spec.Desc == "" || "%"+spec.String() != arg && "%:"+spec.Desc != arg {
				t.Fatalf("Parse(%q) = %+v does not say the argument back", arg, spec)
			}
			return
		}
		if strings.HasPrefix(arg, "@") {
			if spec.ID > -1 || spec.ID < -7 {
				t.Fatalf("Parse(%q) = %d, not a special id", arg, spec.ID)
			}
			return
		}
		if n, rest, _ := clib.Strtoul(arg, 0); rest != "" || int32(uint32(n)) != spec.ID {
			t.Fatalf("Parse(%q) = %d, strtoul reads %d rest %q", arg, spec.ID, n, rest)
		}
	})
}
