#include "xfer/models/vgg.h"
