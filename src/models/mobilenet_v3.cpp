#include "xfer/models/mobilenet_v3.h"
