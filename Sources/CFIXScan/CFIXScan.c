// SwiftPM needs one source file in a C target; everything is in include/CFIXScan.h.
#include "CFIXScan.h"
