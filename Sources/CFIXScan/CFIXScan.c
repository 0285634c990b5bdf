#include "CFIXScan.h"
