//! The company service (issue 4), built up in slices. This first slice is its domain rules that
//! need no store: the Unified Social Credit Code check (GB 32100-2015), the coordinate systems
//! Chinese map services use (WGS-84/CGCS2000, GCJ-02, BD-09), and the role → permission table
//! every service's authorization goes through.

pub mod domain;
