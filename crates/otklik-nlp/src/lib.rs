//! Russian text analysis for Otklik (being built).
