//! Rostering: named agents on scheduled shifts.
