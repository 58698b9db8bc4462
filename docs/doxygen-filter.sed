# SPDX-License-Identifier: MIT
# Doxygen INPUT_FILTER (docs/Doxyfile.in): the headers keep the plain-text
# convention a reader of the .h file sees, and Doxygen gets sections:
#   " * Returns: ..."    -> @return (so WARN_NO_PARAMDOC knows it is there)
#   " * Locking: ..."    -> @locking    (alias: a "Locking:" paragraph)
#   " * On failure: ..." -> @onfailure  (alias: an "On failure:" paragraph)
# Only lines inside comments (" * " or "/** ") are rewritten, and no line is
# added or removed, so warnings point at the right line.
s/^\(\( \*\)\|\(\/\*\*\)\) *Returns:/\1 @return/
s/^\(\( \*\)\|\(\/\*\*\)\) *Locking:/\1 @locking/
s/^\(\( \*\)\|\(\/\*\*\)\) *On failure:/\1 @onfailure/
