module github.com/keyctl-go/keyctl-go

go 1.26.0

require golang.org/x/sys v0.49.0

require (
	go.etcd.io/bbolt v1.5.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
)
