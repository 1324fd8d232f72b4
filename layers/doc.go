// Package layers is strata's image data: the content-addressed store
// (blobs, unpacked layers, image names, locking, gc), a layer chain's
// merged filesystem read without mounting (View, Store.View), a step's
// changes from an overlay upper dir (Diff, DiffTo, DiffLayer, which streams
// the list to the layer's changes.json and keeps only its counts) or from a
// layer tar (Store.ChangeList), layer tarballs in and out (OCI whiteouts, hardlinks,
// xattrs, safe extraction), and image config, OCI layout and docker
// tarball I/O through go-containerregistry.
//
// It imports layers/beneath (path resolution beneath a root) and knows
// nothing of Dockerfiles, the sandbox or the TUI.
package layers
