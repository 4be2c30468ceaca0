#include "xfer/models/mobilenet_v2.h"
