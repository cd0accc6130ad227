package ccache_test

import (
	"fmt"
	"log"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// Listing a cache the way klist does, config entries included.
func ExampleReadFile() {
	f, err := ccache.ReadFile("testdata/mit/v4-preauth.cc")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", f.Version, "default principal", f.DefaultPrincipal)
	for _, c := range f.Credentials {
		if key, princ, ok := c.ConfigKey(); ok {
			fmt.Printf("config %s(%s) = %s\n", key, princ, c.Ticket)
			continue
		}
		fmt.Println(c.Server, c.Flags, c.Key.EncType, c.Key.Key)
	}
	// Output:
	// version 4 default principal bob@TEST.LOCAL
	// config fast_avail(krbtgt/TEST.LOCAL@TEST.LOCAL) = yes
	// config pa_type(krbtgt/TEST.LOCAL@TEST.LOCAL) = 2
	// krbtgt/TEST.LOCAL@TEST.LOCAL RIA aes256-cts-hmac-sha1-96 [32 key bytes redacted]
	// host/svc.test.local@TEST.LOCAL RAT aes256-cts-hmac-sha1-96 [32 key bytes redacted]
}
