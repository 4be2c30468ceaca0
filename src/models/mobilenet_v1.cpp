#include "xfer/models/mobilenet_v1.h"
