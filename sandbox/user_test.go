package sandbox

import (
	"reflect"
	"strings"
	"testing"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
`

const testGroup = `root:x:0:root
wheel:x:10:root,app
app:x:1000:
dev:x:2000:app
audio:x:2001:nobody,app
nogroup:x:65534:
`

func TestResolveUser(t *testing.T) {
	passwd := parsePasswd(strings.NewReader(testPasswd))
	groups := parseGroup(strings.NewReader(testGroup))
	tests := []struct {
		spec    string
		want    execUser
		wantErr string
	}{
		{"", execUser{UID: 0, GID: 0, Groups: []int{0, 10}, Home: "/root"}, ""},
		{"root", execUser{UID: 0, GID: 0, Groups: []int{0, 10}, Home: "/root"}, ""},
		{"app", execUser{UID: 1000, GID: 1000, Groups: []int{1000, 10, 2000, 2001}, Home: "/home/app"}, ""},
		{"1000", execUser{UID: 1000, GID: 1000, Groups: []int{1000, 10, 2000, 2001}, Home: "/home/app"}, ""},
		{"app:dev", execUser{UID: 1000, GID: 2000, Groups: []int{2000}, Home: "/home/app"}, ""},
		{"1000:2001", execUser{UID: 1000, GID: 2001, Groups: []int{2001}, Home: "/home/app"}, ""},
		{"4242", execUser{UID: 4242, GID: 0, Groups: []int{0}, Home: "/"}, ""},
		{"4242:4343", execUser{UID: 4242, GID: 4343, Groups: []int{4343}, Home: "/"}, ""},
		{"nobody", execUser{UID: 65534, GID: 65534, Groups: []int{65534, 2001}, Home: "/nonexistent"}, ""},
		{"nosuch", execUser{}, "unable to find user nosuch: no matching entries in passwd file"},
		{"app:nosuch", execUser{}, "unable to find group nosuch: no matching entries in group file"},
		{"4294967296", execUser{}, `invalid user "4294967296": a uid is 0 to 2147483647`},
		{"1:4294967296", execUser{}, `invalid group "4294967296": a gid is 0 to 2147483647`},
		{"2147483647", execUser{UID: 2147483647, GID: 0, Groups: []int{0}, Home: "/"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := resolveUser(tt.spec, passwd, groups)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("resolveUser(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolveUser(%q): %v", tt.spec, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("resolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}
