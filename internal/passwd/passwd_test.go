package passwd

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePasswd(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Entry
	}{
		{"empty", "", nil},
		{"full line", "root:x:0:0:root:/root:/bin/sh\n", []Entry{{"root", 0, 0, "/root"}}},
		{"no home field", "app:x:1000:1001\n", []Entry{{"app", 1000, 1001, ""}}},
		{"home without shell", "app:x:1:2:gecos:/home/app\n", []Entry{{"app", 1, 2, "/home/app"}}},
		{"comments and blanks skipped", "# c\n\n   \nbin:x:1:1::/bin:/sbin/nologin\n", []Entry{{"bin", 1, 1, "/bin"}}},
		{"surrounding space trimmed", "  app:x:5:6::/h:/bin/sh  \r\n", []Entry{{"app", 5, 6, "/h"}}},
		{"indented comment skipped", "  # app:x:5:6::/h:/bin/sh\n", nil},
		{"too few fields skipped", "app:x:5\nok:x:7:8\n", []Entry{{"ok", 7, 8, ""}}},
		{"non-numeric ids skipped", "a:x:one:1\nb:x:1:two\nc:x:3:3\n", []Entry{{"c", 3, 3, ""}}},
		{"no trailing newline, order kept", "b:x:2:2\na:x:1:1", []Entry{{"b", 2, 2, ""}, {"a", 1, 1, ""}}},
		{"duplicates kept", "a:x:1:1\na:x:2:2\n", []Entry{{"a", 1, 1, ""}, {"a", 2, 2, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParsePasswd(strings.NewReader(tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParsePasswd(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseGroup(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Group
	}{
		{"empty", "", nil},
		{"no members", "root:x:0:\n", []Group{{"root", 0, nil}}},
		{"no members field", "root:x:0\n", []Group{{"root", 0, nil}}},
		{"members", "wheel:x:10:root,app\n", []Group{{"wheel", 10, []string{"root", "app"}}}},
		{"blank members dropped, spaces trimmed", "g:x:5:a,, b ,\n", []Group{{"g", 5, []string{"a", "b"}}}},
		{"comments and blanks skipped", "#g:x:1:\n\ng:x:2:\n", []Group{{"g", 2, nil}}},
		{"too few fields skipped", "g:x\nh:x:3:\n", []Group{{"h", 3, nil}}},
		{"non-numeric gid skipped", "g:x:no:a\nh:x:4:\n", []Group{{"h", 4, nil}}},
		{"surrounding space trimmed", " g:x:9:a \n", []Group{{"g", 9, []string{"a"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseGroup(strings.NewReader(tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseGroup(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestByName(t *testing.T) {
	users := ParsePasswd(strings.NewReader("a:x:1:1\nb:x:2:2\nb:x:3:3\n"))
	if e, ok := UserByName(users, "b"); !ok || e.UID != 2 {
		t.Errorf("UserByName(b) = %+v, %v; want the first b (uid 2)", e, ok)
	}
	if _, ok := UserByName(users, "c"); ok {
		t.Error("UserByName(c) found an entry that is not in the file")
	}
	groups := ParseGroup(strings.NewReader("g:x:1:\ng:x:2:\n"))
	if g, ok := GroupByName(groups, "g"); !ok || g.GID != 1 {
		t.Errorf("GroupByName(g) = %+v, %v; want the first g (gid 1)", g, ok)
	}
	if _, ok := GroupByName(groups, "h"); ok {
		t.Error("GroupByName(h) found a group that is not in the file")
	}
}
