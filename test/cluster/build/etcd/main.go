// etcd's own main (go.etcd.io/etcd/server/v3/etcdmain), wrapped in a module of ours so that a pinned 3.5.x
// builds from the Go module proxy without cloning the etcd repository.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
